-- Live chat: conversations between a website visitor and the team. Each message has a
-- per-conversation sequence number, given in the same transaction that stores it: a
-- client that reconnects resumes after the last number it saw. A client id makes a
-- resent message (its acknowledgement lost) land once.
CREATE TABLE chat_conversations (
	id                 {{.ID}},
	visitor_token_hash TEXT NOT NULL UNIQUE,
	visitor_name       TEXT NOT NULL DEFAULT '',
	visitor_email      TEXT NOT NULL DEFAULT '',
	status             TEXT NOT NULL CHECK (status IN ('open', 'closed')),
	assignee_id        BIGINT REFERENCES users (id) ON DELETE SET NULL,
	last_seq           BIGINT NOT NULL DEFAULT 0,
	origin             TEXT NOT NULL DEFAULT '',
	started_at         {{.Time}} NOT NULL,
	first_response_at  {{.Time}},
	closed_at          {{.Time}},
	updated_at         {{.Time}} NOT NULL
);
CREATE INDEX chat_conversations_status ON chat_conversations (status, updated_at, id);

CREATE TABLE chat_messages (
	id              {{.ID}},
	conversation_id BIGINT NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
	seq             BIGINT NOT NULL,
	author          TEXT NOT NULL CHECK (author IN ('visitor', 'agent', 'system')),
	author_user_id  BIGINT,
	body            TEXT NOT NULL,
	client_id       TEXT NOT NULL DEFAULT '',
	created_at      {{.Time}} NOT NULL,
	UNIQUE (conversation_id, seq)
);
CREATE UNIQUE INDEX chat_messages_client ON chat_messages (conversation_id, client_id) WHERE client_id <> '';
