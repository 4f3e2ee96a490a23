-- The control plane: instances and their history, API tokens, idempotency records,
-- billing webhooks and their delivery outbox.
CREATE TABLE instances (
	id               TEXT PRIMARY KEY,
	customer_id      TEXT NOT NULL,
	slug             TEXT NOT NULL,
	plan             TEXT NOT NULL,
	admin_email      TEXT NOT NULL DEFAULT '',
	admin_name       TEXT NOT NULL DEFAULT '',
	state            TEXT NOT NULL,
	desired_state    TEXT NOT NULL,
	upstream         TEXT NOT NULL DEFAULT '',
	last_error       TEXT NOT NULL DEFAULT '',
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  {{.Time}} NOT NULL,
	secrets          {{.Blob}},
	suspend_reason   TEXT NOT NULL DEFAULT '',
	created_at       {{.Time}} NOT NULL,
	updated_at       {{.Time}} NOT NULL,
	suspended_at     {{.Time}},
	purge_after      {{.Time}},
	destroyed_at     {{.Time}},
	lease_owner      TEXT NOT NULL DEFAULT '',
	lease_expires_at {{.Time}}
);
-- A slug belongs to one live instance; a destroyed one (a tombstone) frees it.
CREATE UNIQUE INDEX instances_live_slug ON instances (slug) WHERE state <> 'destroyed';
CREATE INDEX instances_customer ON instances (customer_id, id);
CREATE INDEX instances_state ON instances (state, id);
CREATE INDEX instances_next_attempt ON instances (next_attempt_at);

CREATE TABLE events (
	id          {{.ID}},
	instance_id TEXT NOT NULL,
	type        TEXT NOT NULL,
	at          {{.Time}} NOT NULL,
	actor       TEXT NOT NULL DEFAULT '',
	reason      TEXT NOT NULL DEFAULT '',
	from_state  TEXT NOT NULL DEFAULT '',
	to_state    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_instance ON events (instance_id, id);
CREATE INDEX events_at ON events (at);

CREATE TABLE api_tokens (
	id           {{.ID}},
	name         TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE,
	scopes       TEXT NOT NULL,
	created_at   {{.Time}} NOT NULL,
	last_used_at {{.Time}},
	revoked_at   {{.Time}}
);

CREATE TABLE idempotency_keys (
	token_id     BIGINT NOT NULL,
	key          TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status       INTEGER NOT NULL,
	body         TEXT NOT NULL,
	created_at   {{.Time}} NOT NULL,
	PRIMARY KEY (token_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE webhooks (
	id          {{.ID}},
	url         {{.Blob}} NOT NULL,
	secret      {{.Blob}} NOT NULL,
	events      TEXT NOT NULL,
	created_at  {{.Time}} NOT NULL
);

CREATE TABLE deliveries (
	id              {{.ID}},
	webhook_id      BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_id        BIGINT NOT NULL,
	payload         TEXT NOT NULL,
	status          TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at {{.Time}} NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	response_code   INTEGER NOT NULL DEFAULT 0,
	created_at      {{.Time}} NOT NULL,
	delivered_at    {{.Time}}
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
