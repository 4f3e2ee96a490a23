-- Agent restrictions: a user whose ticket_scope is 'assigned' sees only the tickets
-- assigned to them (and their attachments); everything else is "not found".
ALTER TABLE users ADD COLUMN ticket_scope TEXT NOT NULL DEFAULT 'all' CHECK (ticket_scope IN ('all', 'assigned'));
