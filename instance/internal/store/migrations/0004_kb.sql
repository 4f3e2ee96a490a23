-- Knowledge base: categories and articles written in Markdown.
CREATE TABLE kb_categories (
	id          {{.ID}},
	slug        TEXT NOT NULL UNIQUE,
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	position    INTEGER NOT NULL DEFAULT 0,
	created_at  {{.Time}} NOT NULL,
	updated_at  {{.Time}} NOT NULL
);

CREATE TABLE kb_articles (
	id           {{.ID}},
	category_id  BIGINT REFERENCES kb_categories (id) ON DELETE SET NULL,
	slug         TEXT NOT NULL UNIQUE,
	title        TEXT NOT NULL,
	body_md      TEXT NOT NULL,
	body_html    TEXT NOT NULL,
	language     TEXT NOT NULL CHECK (language IN ('en', 'de')),
	status       TEXT NOT NULL CHECK (status IN ('draft', 'published')),
	helpful_yes  INTEGER NOT NULL DEFAULT 0,
	helpful_no   INTEGER NOT NULL DEFAULT 0,
	author_id    BIGINT,
	created_at   {{.Time}} NOT NULL,
	updated_at   {{.Time}} NOT NULL,
	published_at {{.Time}}
);
CREATE INDEX kb_articles_category ON kb_articles (category_id, status);
