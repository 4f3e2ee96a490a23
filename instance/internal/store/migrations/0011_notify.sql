-- Notification targets: where the team hears of events (Slack, Discord, Bark, signed
-- webhooks, e-mail). What reaches a target (its URL, key, secret) is sealed with the
-- instance's secret key (AES-256-GCM) in config_sealed; hint is what the UI may show.
CREATE TABLE notify_targets (
	id            {{.ID}},
	kind          TEXT NOT NULL CHECK (kind IN ('slack', 'discord', 'bark', 'webhook', 'email')),
	name          TEXT NOT NULL,
	events        TEXT NOT NULL,
	config_sealed {{.Blob}} NOT NULL,
	hint          TEXT NOT NULL DEFAULT '',
	active        BOOLEAN NOT NULL,
	created_at    {{.Time}} NOT NULL,
	updated_at    {{.Time}} NOT NULL
);

-- One event for one target: the durable queue. delivery_id stays the same across
-- retries, so a receiver can drop repeats.
CREATE TABLE notify_deliveries (
	id              {{.ID}},
	delivery_id     TEXT NOT NULL UNIQUE,
	target_id       BIGINT NOT NULL REFERENCES notify_targets (id) ON DELETE CASCADE,
	event_type      TEXT NOT NULL,
	payload         TEXT NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at {{.Time}} NOT NULL,
	created_at      {{.Time}} NOT NULL,
	sent_at         {{.Time}}
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (status, next_attempt_at);
CREATE INDEX notify_deliveries_target ON notify_deliveries (target_id, id);

-- Every attempt, for the delivery log (kept 90 days).
CREATE TABLE notify_attempts (
	id          {{.ID}},
	delivery_id BIGINT NOT NULL REFERENCES notify_deliveries (id) ON DELETE CASCADE,
	target_id   BIGINT NOT NULL REFERENCES notify_targets (id) ON DELETE CASCADE,
	at          {{.Time}} NOT NULL,
	status_code INTEGER NOT NULL DEFAULT 0,
	error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notify_attempts_target ON notify_attempts (target_id, at);
CREATE INDEX notify_attempts_at ON notify_attempts (at);

-- A conversation nobody has answered for a while is told once.
ALTER TABLE chat_conversations ADD COLUMN unanswered_notified_at {{.Time}};
