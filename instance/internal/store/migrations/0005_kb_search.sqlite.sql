-- SQLite has no German stemmer: the app stems title and body (Snowball, per article
-- language) and FTS5 indexes the stems. rowid is the article id.
CREATE VIRTUAL TABLE kb_fts USING fts5 (title, body, tokenize = 'unicode61 remove_diacritics 0');
