-- Backups (issue 13): each backup of an instance as the control plane records it (its
-- objects are at the backup target), the weekly restore drills, what a restore in
-- progress needs on its instance, and the control plane's own keys (sealed).
CREATE TABLE backups (
	id               TEXT PRIMARY KEY,
	instance_id      TEXT NOT NULL,
	state            TEXT NOT NULL,
	trigger_kind     TEXT NOT NULL,
	created_at       {{.Time}} NOT NULL,
	started_at       {{.Time}},
	completed_at     {{.Time}},
	expires_at       {{.Time}} NOT NULL,
	size_bytes       BIGINT NOT NULL DEFAULT 0,
	added_bytes      BIGINT NOT NULL DEFAULT 0,
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  {{.Time}} NOT NULL,
	last_error       TEXT NOT NULL DEFAULT '',
	lease_owner      TEXT NOT NULL DEFAULT '',
	lease_expires_at {{.Time}}
);
CREATE INDEX backups_instance ON backups (instance_id, created_at);
CREATE INDEX backups_due ON backups (state, next_attempt_at);
CREATE INDEX backups_expires ON backups (expires_at);

CREATE TABLE backup_drills (
	id             TEXT PRIMARY KEY,
	instance_id    TEXT NOT NULL,
	backup_id      TEXT NOT NULL,
	scratch_id     TEXT NOT NULL,
	started_at     {{.Time}} NOT NULL,
	finished_at    {{.Time}},
	ok             BOOLEAN NOT NULL DEFAULT FALSE,
	error          TEXT NOT NULL DEFAULT '',
	tables_checked INTEGER NOT NULL DEFAULT 0,
	rows_checked   BIGINT NOT NULL DEFAULT 0,
	blobs_checked  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX backup_drills_instance ON backup_drills (instance_id, started_at);
CREATE INDEX backup_drills_scratch ON backup_drills (scratch_id);

-- A restore in progress: the backup restored and the state to return to. A new
-- instance made from a backup carries its id from creation on.
ALTER TABLE instances ADD COLUMN restore_backup_id TEXT NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN restore_from_state TEXT NOT NULL DEFAULT '';
-- When backup.stale was raised; cleared by the next completed backup.
ALTER TABLE instances ADD COLUMN backup_stale_at {{.Time}};

-- The control plane's own keys, sealed (secret's places): the backup identity.
CREATE TABLE control_keys (
	name       TEXT PRIMARY KEY,
	value      {{.Blob}} NOT NULL,
	created_at {{.Time}} NOT NULL
);
