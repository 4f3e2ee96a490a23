-- The agents' chat inbox. An internal note is a message only the team sees; an
-- attachment is a file in a message (its body in the blob store, as for tickets).
-- read_seq is the last sequence number the team has read, for the unread counts.
ALTER TABLE chat_messages ADD COLUMN internal BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE chat_messages ADD COLUMN attachment_id BIGINT;
ALTER TABLE chat_conversations ADD COLUMN read_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX chat_conversations_assignee ON chat_conversations (assignee_id, status);

CREATE TABLE chat_attachments (
	id              {{.ID}},
	conversation_id BIGINT NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
	filename        TEXT NOT NULL,
	content_type    TEXT NOT NULL,
	size            BIGINT NOT NULL,
	sha256          TEXT NOT NULL,
	created_at      {{.Time}} NOT NULL
);
CREATE INDEX chat_attachments_sha ON chat_attachments (sha256);

-- An agent's chosen presence (online or away; offline is having no inbox open), how
-- many open chats they take at once, and when they were last given one, for the
-- round-robin.
CREATE TABLE chat_agents (
	user_id          BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	status           TEXT NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'away')),
	max_chats        INTEGER NOT NULL DEFAULT 5 CHECK (max_chats BETWEEN 1 AND 100),
	last_assigned_at {{.Time}}
);

-- Canned responses: an agent types /shortcut and the inbox puts in the body.
CREATE TABLE chat_canned (
	id         {{.ID}},
	shortcut   TEXT NOT NULL UNIQUE,
	body       TEXT NOT NULL,
	created_at {{.Time}} NOT NULL
);
