-- Every list filter reads its first page from an index in the list's order, newest
-- first, instead of sorting all matching tickets.
CREATE INDEX tickets_status_updated ON tickets (status, updated_at, id);
CREATE INDEX tickets_assignee_status_updated ON tickets (assignee_id, status, updated_at, id);
CREATE INDEX tickets_assignee_updated ON tickets (assignee_id, updated_at, id);
CREATE INDEX tickets_priority_rank ON tickets ((CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END), id DESC);
DROP INDEX tickets_status;
DROP INDEX tickets_assignee;
