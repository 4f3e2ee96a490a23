-- When gc first found an instance's runtime objects with no live instance behind them:
-- their data is removed only a grace period later.
CREATE TABLE orphans (
	instance_id   TEXT PRIMARY KEY,
	first_seen_at {{.Time}} NOT NULL
);
