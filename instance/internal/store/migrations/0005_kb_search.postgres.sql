-- PostgreSQL stems with its own german and english configurations; title weighs more.
ALTER TABLE kb_articles ADD COLUMN search tsvector;
CREATE INDEX kb_articles_search ON kb_articles USING GIN (search);
