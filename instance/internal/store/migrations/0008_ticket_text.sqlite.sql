-- Substring search over subjects and messages: FTS5 trigram tables, kept current by
-- triggers (rowid = ticket id and message id).
CREATE VIRTUAL TABLE ticket_subject_fts USING fts5 (subject, tokenize = 'trigram');
CREATE VIRTUAL TABLE ticket_body_fts USING fts5 (body, tokenize = 'trigram');
INSERT INTO ticket_subject_fts (rowid, subject) SELECT id, subject FROM tickets;
INSERT INTO ticket_body_fts (rowid, body) SELECT id, body FROM ticket_messages;
-- begin
CREATE TRIGGER tickets_text_ai AFTER INSERT ON tickets BEGIN
	INSERT INTO ticket_subject_fts (rowid, subject) VALUES (new.id, new.subject);
END;
-- end
-- begin
CREATE TRIGGER tickets_text_au AFTER UPDATE OF subject ON tickets BEGIN
	DELETE FROM ticket_subject_fts WHERE rowid = old.id;
	INSERT INTO ticket_subject_fts (rowid, subject) VALUES (new.id, new.subject);
END;
-- end
-- begin
CREATE TRIGGER tickets_text_ad AFTER DELETE ON tickets BEGIN
	DELETE FROM ticket_subject_fts WHERE rowid = old.id;
END;
-- end
-- begin
CREATE TRIGGER ticket_messages_text_ai AFTER INSERT ON ticket_messages BEGIN
	INSERT INTO ticket_body_fts (rowid, body) VALUES (new.id, new.body);
END;
-- end
-- begin
CREATE TRIGGER ticket_messages_text_au AFTER UPDATE OF body ON ticket_messages BEGIN
	DELETE FROM ticket_body_fts WHERE rowid = old.id;
	INSERT INTO ticket_body_fts (rowid, body) VALUES (new.id, new.body);
END;
-- end
-- begin
CREATE TRIGGER ticket_messages_text_ad AFTER DELETE ON ticket_messages BEGIN
	DELETE FROM ticket_body_fts WHERE rowid = old.id;
END;
-- end
