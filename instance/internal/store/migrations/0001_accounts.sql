-- Accounts: users, sessions, API tokens, the audit log, and instance-wide settings.
CREATE TABLE meta (
	key        TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_at {{.Time}} NOT NULL
);

CREATE TABLE users (
	id            {{.ID}},
	email         TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	role          TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent', 'viewer')),
	active        BOOLEAN NOT NULL,
	locale        TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL,
	created_at    {{.Time}} NOT NULL,
	updated_at    {{.Time}} NOT NULL,
	last_login_at {{.Time}}
);

CREATE TABLE sessions (
	hash       TEXT PRIMARY KEY,
	user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at {{.Time}} NOT NULL,
	expires_at {{.Time}} NOT NULL,
	ip         TEXT NOT NULL,
	user_agent TEXT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE api_tokens (
	id           {{.ID}},
	user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	prefix       TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE,
	created_at   {{.Time}} NOT NULL,
	last_used_at {{.Time}}
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- No foreign key on actor_id: the trail outlives the people in it.
CREATE TABLE audit_log (
	id          {{.ID}},
	at          {{.Time}} NOT NULL,
	actor_id    BIGINT NOT NULL DEFAULT 0,
	actor_email TEXT NOT NULL DEFAULT '',
	action      TEXT NOT NULL,
	target_type TEXT NOT NULL DEFAULT '',
	target_id   TEXT NOT NULL DEFAULT '',
	detail      TEXT NOT NULL DEFAULT '',
	ip          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_action_id ON audit_log (action, id);
CREATE INDEX audit_log_at ON audit_log (at);
