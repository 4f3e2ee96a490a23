package store

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/instance/internal/kb"
)

// KB implements kb.Store.
type KB struct{ db *DB }

// NewKB returns the knowledge base store of db.
func NewKB(db *DB) *KB { return &KB{db: db} }

var _ kb.Store = (*KB)(nil)

type categoryRow struct {
	ID          int64 `gorm:"primaryKey"`
	Slug        string
	Name        string
	Description string
	Position    int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (categoryRow) TableName() string { return "kb_categories" }

type articleRow struct {
	ID          int64 `gorm:"primaryKey"`
	CategoryID  *int64
	Slug        string
	Title       string
	BodyMD      string `gorm:"column:body_md"`
	BodyHTML    string `gorm:"column:body_html"`
	Language    string
	Status      string
	HelpfulYes  int
	HelpfulNo   int
	AuthorID    *int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	PublishedAt *time.Time
}

func (articleRow) TableName() string { return "kb_articles" }

// articleColumns leaves out PostgreSQL's search column.
const articleColumns = "id, category_id, slug, title, body_md, body_html, language, status, helpful_yes, helpful_no, author_id, created_at, updated_at, published_at"

func (r articleRow) domain() kb.Article {
	return kb.Article{ID: r.ID, CategoryID: r.CategoryID, Slug: r.Slug, Title: r.Title, BodyMD: r.BodyMD, BodyHTML: r.BodyHTML, Language: r.Language,
		Status: kb.Status(r.Status), HelpfulYes: r.HelpfulYes, HelpfulNo: r.HelpfulNo, AuthorID: r.AuthorID, CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(), PublishedAt: utcPtr(r.PublishedAt)}
}

// CreateCategory inserts c. Returns instance.ErrConflict for a taken slug.
func (s *KB) CreateCategory(ctx context.Context, c *kb.Category) error {
	row := categoryRow{Slug: c.Slug, Name: c.Name, Description: c.Description, Position: c.Position, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if err := s.db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err)
	}
	c.ID = row.ID
	return nil
}

func (r categoryRow) domain() kb.Category {
	return kb.Category{ID: r.ID, Slug: r.Slug, Name: r.Name, Description: r.Description, Position: r.Position, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// Categories lists categories by position and name.
func (s *KB) Categories(ctx context.Context) ([]kb.Category, error) {
	var rows []categoryRow
	if err := s.db.gorm.WithContext(ctx).Order("position, name").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]kb.Category, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// FindCategoryBySlug returns instance.ErrNotFound for an unknown slug.
func (s *KB) FindCategoryBySlug(ctx context.Context, slug string) (kb.Category, error) {
	var r categoryRow
	if err := s.db.gorm.WithContext(ctx).Where("slug = ?", slug).Take(&r).Error; err != nil {
		return kb.Category{}, translate(err)
	}
	return r.domain(), nil
}

// SaveArticle inserts or updates a, and its search entry, in one transaction.
func (s *KB) SaveArticle(ctx context.Context, a *kb.Article) error {
	return translate(s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row := articleRow{ID: a.ID, CategoryID: a.CategoryID, Slug: a.Slug, Title: a.Title, BodyMD: a.BodyMD, BodyHTML: a.BodyHTML, Language: a.Language,
			Status: string(a.Status), HelpfulYes: a.HelpfulYes, HelpfulNo: a.HelpfulNo, AuthorID: a.AuthorID, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
			PublishedAt: a.PublishedAt}
		var err error
		if a.ID == 0 {
			err = tx.Omit("ID").Create(&row).Error
		} else {
			err = tx.Model(&articleRow{}).Where("id = ?", a.ID).Select("*").Omit("ID", "CreatedAt", "HelpfulYes", "HelpfulNo").Updates(&row).Error
		}
		if err != nil {
			return err
		}
		a.ID = row.ID
		return s.index(tx, *a)
	}))
}

// index writes the article's search entry: stems in SQLite's FTS5 table, a weighted
// tsvector in PostgreSQL's own language configuration.
func (s *KB) index(tx *gorm.DB, a kb.Article) error {
	plain := kb.PlainText(a.BodyHTML)
	if s.db.dialect == Postgres {
		cfg := map[string]string{"de": "german", "en": "english"}[a.Language]
		return tx.Exec(`UPDATE kb_articles SET search = setweight(to_tsvector(?::regconfig, ?), 'A') || setweight(to_tsvector(?::regconfig, ?), 'B') WHERE id = ?`,
			cfg, a.Title, cfg, plain, a.ID).Error
	}
	if err := tx.Exec("DELETE FROM kb_fts WHERE rowid = ?", a.ID).Error; err != nil {
		return err
	}
	return tx.Exec("INSERT INTO kb_fts (rowid, title, body) VALUES (?, ?, ?)", a.ID, kb.Stems(a.Language, a.Title), kb.Stems(a.Language, plain)).Error
}

// FindArticle returns instance.ErrNotFound for an unknown id.
func (s *KB) FindArticle(ctx context.Context, id int64) (kb.Article, error) {
	var r articleRow
	if err := s.db.gorm.WithContext(ctx).Select(articleColumns).Where("id = ?", id).Take(&r).Error; err != nil {
		return kb.Article{}, translate(err)
	}
	return r.domain(), nil
}

// FindArticleBySlug returns instance.ErrNotFound for an unknown slug.
func (s *KB) FindArticleBySlug(ctx context.Context, slug string) (kb.Article, error) {
	var r articleRow
	if err := s.db.gorm.WithContext(ctx).Select(articleColumns).Where("slug = ?", slug).Take(&r).Error; err != nil {
		return kb.Article{}, translate(err)
	}
	return r.domain(), nil
}

// Articles lists a category's articles (0: all) by title.
func (s *KB) Articles(ctx context.Context, categoryID int64, onlyPublished bool) ([]kb.Article, error) {
	q := s.db.gorm.WithContext(ctx).Select(articleColumns).Order("title, id")
	if categoryID > 0 {
		q = q.Where("category_id = ?", categoryID)
	}
	if onlyPublished {
		q = q.Where("status = ?", kb.Published)
	}
	var rows []articleRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]kb.Article, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// Search ranks articles for query: bm25 over the stems with the title weighing ten
// times the body on SQLite; ts_rank over the weighted tsvector on PostgreSQL.
func (s *KB) Search(ctx context.Context, query string, onlyPublished bool, limit int) ([]kb.Article, error) {
	published := ""
	if onlyPublished {
		published = " AND a.status = 'published'"
	}
	var rows []articleRow
	var err error
	cols := "a." + strings.ReplaceAll(articleColumns, ", ", ", a.")
	if s.db.dialect == Postgres {
		err = s.db.gorm.WithContext(ctx).Raw(`SELECT `+cols+` FROM kb_articles a,
			websearch_to_tsquery('german', ?) qde, websearch_to_tsquery('english', ?) qen
			WHERE ((a.language = 'de' AND a.search @@ qde) OR (a.language = 'en' AND a.search @@ qen))`+published+`
			ORDER BY CASE a.language WHEN 'de' THEN ts_rank(a.search, qde) ELSE ts_rank(a.search, qen) END DESC, a.id
			LIMIT ?`, query, query, limit).Scan(&rows).Error
	} else {
		match := ftsQuery(query)
		if match == "" {
			return nil, nil
		}
		// Rank the hits on the full-text index and the small (status, id) index alone,
		// then read only the best articles: a common word matches thousands, and each
		// article row carries its bodies. CROSS JOIN keeps the hits the outer loop, so
		// the full-text query runs once.
		hits := `SELECT rowid AS id, bm25(kb_fts, 10.0, 1.0) AS score FROM kb_fts WHERE kb_fts MATCH ?`
		if published != "" {
			hits = `SELECT h.id, h.score FROM (` + hits + `) h CROSS JOIN kb_articles p INDEXED BY kb_articles_status_id
				WHERE p.status = 'published' AND p.id = h.id`
		}
		err = s.db.gorm.WithContext(ctx).Raw(`SELECT `+cols+` FROM kb_articles a JOIN (SELECT id, score FROM (`+hits+`) ORDER BY score, id LIMIT ?) top
			ON a.id = top.id ORDER BY top.score, top.id`, match, limit).Scan(&rows).Error
	}
	if err != nil {
		return nil, err
	}
	out := make([]kb.Article, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// ftsQuery makes an FTS5 query from user words: each word matches its German or its
// English stem, and every word must match. Stems are quoted, so no user text is FTS5
// syntax.
func ftsQuery(query string) string {
	var parts []string
	for _, w := range kb.Words(query) {
		de, en := kb.Stem("de", w), kb.Stem("en", w)
		if de == en {
			parts = append(parts, quoteFTS(de))
		} else {
			parts = append(parts, "("+quoteFTS(de)+" OR "+quoteFTS(en)+")")
		}
	}
	return strings.Join(parts, " AND ")
}

func quoteFTS(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Vote counts one helpful or unhelpful answer.
func (s *KB) Vote(ctx context.Context, id int64, helpful bool) error {
	col := "helpful_no"
	if helpful {
		col = "helpful_yes"
	}
	return s.db.gorm.WithContext(ctx).Model(&articleRow{}).Where("id = ?", id).Update(col, gorm.Expr(col+" + 1")).Error
}
