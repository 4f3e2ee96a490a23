-- Tickets: requests from customers, their conversation, history and attachments.
CREATE TABLE tickets (
	id                {{.ID}},
	subject           TEXT NOT NULL,
	requester_name    TEXT NOT NULL DEFAULT '',
	requester_email   TEXT NOT NULL,
	status            TEXT NOT NULL CHECK (status IN ('new', 'open', 'pending', 'solved', 'closed')),
	priority          TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
	assignee_id       BIGINT REFERENCES users (id) ON DELETE SET NULL,
	source            TEXT NOT NULL DEFAULT 'agent',
	merged_into_id    BIGINT REFERENCES tickets (id),
	created_at        {{.Time}} NOT NULL,
	updated_at        {{.Time}} NOT NULL,
	first_response_at {{.Time}},
	solved_at         {{.Time}},
	closed_at         {{.Time}}
);
CREATE INDEX tickets_status ON tickets (status, id);
CREATE INDEX tickets_assignee ON tickets (assignee_id, id);
CREATE INDEX tickets_requester ON tickets (requester_email, id);
CREATE INDEX tickets_updated ON tickets (updated_at, id);

CREATE TABLE ticket_tags (
	ticket_id BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	tag       TEXT NOT NULL,
	PRIMARY KEY (ticket_id, tag)
);
CREATE INDEX ticket_tags_tag ON ticket_tags (tag, ticket_id);

-- kind: message (from the requester), reply (public, from an agent), note (internal).
CREATE TABLE ticket_messages (
	id             {{.ID}},
	ticket_id      BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	kind           TEXT NOT NULL CHECK (kind IN ('message', 'reply', 'note')),
	author_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
	author_name    TEXT NOT NULL DEFAULT '',
	author_email   TEXT NOT NULL DEFAULT '',
	body           TEXT NOT NULL,
	created_at     {{.Time}} NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);

-- Every change of a ticket: who, when, which field, from what to what.
CREATE TABLE ticket_history (
	id            {{.ID}},
	ticket_id     BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	at            {{.Time}} NOT NULL,
	actor_user_id BIGINT,
	actor_name    TEXT NOT NULL DEFAULT '',
	field         TEXT NOT NULL,
	from_value    TEXT NOT NULL DEFAULT '',
	to_value      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);

-- Attachment bodies live in the data dir, named by their SHA-256 (content-addressed).
CREATE TABLE attachments (
	id           {{.ID}},
	ticket_id    BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	message_id   BIGINT REFERENCES ticket_messages (id) ON DELETE SET NULL,
	filename     TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size         BIGINT NOT NULL,
	sha256       TEXT NOT NULL,
	uploaded_by  BIGINT,
	created_at   {{.Time}} NOT NULL
);
CREATE INDEX attachments_ticket ON attachments (ticket_id, id);
CREATE INDEX attachments_sha ON attachments (sha256);
