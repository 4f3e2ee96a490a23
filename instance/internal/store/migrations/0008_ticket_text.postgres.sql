-- Substring search over subjects and messages through trigram indexes.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX tickets_subject_trgm ON tickets USING gin (LOWER(subject) gin_trgm_ops);
CREATE INDEX ticket_messages_body_trgm ON ticket_messages USING gin (LOWER(body) gin_trgm_ops);
