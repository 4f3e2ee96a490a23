-- Booking: appointment types, each agent's weekly hours and days off, and bookings.
-- Times of day are minutes after local midnight in the instance's time zone; bookings
-- are instants (UTC). blocked_start/blocked_end are a booking's time with its type's
-- buffers, so a later change to the type does not move what is already booked.
CREATE TABLE booking_types (
	id                    {{.ID}},
	name                  TEXT NOT NULL,
	slug                  TEXT NOT NULL UNIQUE,
	description           TEXT NOT NULL DEFAULT '',
	duration_minutes      INTEGER NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
	buffer_before_minutes INTEGER NOT NULL DEFAULT 0,
	buffer_after_minutes  INTEGER NOT NULL DEFAULT 0,
	min_notice_minutes    INTEGER NOT NULL DEFAULT 0,
	horizon_days          INTEGER NOT NULL DEFAULT 60,
	active                BOOLEAN NOT NULL,
	created_at            {{.Time}} NOT NULL,
	updated_at            {{.Time}} NOT NULL
);

CREATE TABLE booking_type_agents (
	type_id BIGINT NOT NULL REFERENCES booking_types (id) ON DELETE CASCADE,
	user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (type_id, user_id)
);

CREATE TABLE booking_hours (
	id           {{.ID}},
	user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	weekday      INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
	start_minute INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1440),
	end_minute   INTEGER NOT NULL CHECK (end_minute BETWEEN 0 AND 1440)
);
CREATE INDEX booking_hours_user ON booking_hours (user_id);

-- A day nobody (user_id NULL: a holiday) or one agent is available.
CREATE TABLE booking_days_off (
	id      {{.ID}},
	user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
	day     TEXT NOT NULL,
	note    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX booking_days_off_day ON booking_days_off (day);

CREATE TABLE bookings (
	id               {{.ID}},
	type_id          BIGINT NOT NULL REFERENCES booking_types (id),
	agent_id         BIGINT NOT NULL REFERENCES users (id),
	start_at         {{.Time}} NOT NULL,
	end_at           {{.Time}} NOT NULL,
	blocked_start    {{.Time}} NOT NULL,
	blocked_end      {{.Time}} NOT NULL,
	name             TEXT NOT NULL,
	email            TEXT NOT NULL,
	message          TEXT NOT NULL DEFAULT '',
	status           TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
	nonce            TEXT NOT NULL,
	reminder_sent_at {{.Time}},
	cancelled_at     {{.Time}},
	anonymized_at    {{.Time}},
	created_at       {{.Time}} NOT NULL
);
CREATE INDEX bookings_agent ON bookings (agent_id, status, blocked_start);
CREATE INDEX bookings_start ON bookings (status, start_at);

-- A mail may carry one file (a booking's .ics).
ALTER TABLE outbox ADD COLUMN attachment_name TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN attachment_type TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN attachment_body TEXT NOT NULL DEFAULT '';
