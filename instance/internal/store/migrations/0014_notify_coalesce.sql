-- A flood of chats must not become a flood of notifications: events of a coalesced
-- type (chat.new, chat.unanswered) reach a target at most once a minute, and the
-- delivery that waits for the minute to end counts the events it stands for. Its
-- created_at is the time it is due, so "the latest delivery of this type" also tells
-- whether one is still waiting.
ALTER TABLE notify_deliveries ADD COLUMN event_count INTEGER NOT NULL DEFAULT 1;
CREATE INDEX notify_deliveries_latest ON notify_deliveries (target_id, event_type, created_at);
