-- Outgoing e-mail waits here until the SMTP server has taken it: nothing is lost while
-- the server is down, and every message shows its state.
CREATE TABLE outbox (
	id              {{.ID}},
	to_addr         TEXT NOT NULL,
	subject         TEXT NOT NULL,
	body            TEXT NOT NULL,
	message_id      TEXT NOT NULL,
	in_reply_to     TEXT NOT NULL DEFAULT '',
	kind            TEXT NOT NULL DEFAULT '',
	status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at {{.Time}} NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      {{.Time}} NOT NULL,
	sent_at         {{.Time}}
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
