// Package kb is the knowledge base: categories, articles written in Markdown (rendered
// and sanitized), drafts and published articles with stable slugs, ranked search with
// stemming in German and English, and "was this helpful" counts.
package kb

import (
	"context"
	"fmt"
	"html/template"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Status of an article.
type Status string

// Article states.
const (
	Draft     Status = "draft"
	Published Status = "published"
)

// Category groups articles.
type Category struct {
	ID          int64
	Slug        string
	Name        string
	Description string
	Position    int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Article is one help article.
type Article struct {
	ID          int64
	CategoryID  *int64
	Slug        string
	Title       string
	BodyMD      string
	BodyHTML    string // sanitized
	Language    string // en or de
	Status      Status
	HelpfulYes  int
	HelpfulNo   int
	AuthorID    *int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	PublishedAt *time.Time
}

// Hit is a search result: the article with its title and a snippet highlighted (safe HTML).
type Hit struct {
	Article
	TitleHTML   template.HTML
	SnippetHTML template.HTML
}

// Store is what the service needs of persistence.
type Store interface {
	CreateCategory(ctx context.Context, c *Category) error
	Categories(ctx context.Context) ([]Category, error)
	FindCategoryBySlug(ctx context.Context, slug string) (Category, error)
	// SaveArticle inserts (ID 0) or updates a and its search entry. Returns
	// instance.ErrConflict for a taken slug.
	SaveArticle(ctx context.Context, a *Article) error
	FindArticle(ctx context.Context, id int64) (Article, error)
	FindArticleBySlug(ctx context.Context, slug string) (Article, error)
	Articles(ctx context.Context, categoryID int64, onlyPublished bool) ([]Article, error)
	// Search returns the best-matching articles first.
	Search(ctx context.Context, query string, onlyPublished bool, limit int) ([]Article, error)
	Vote(ctx context.Context, id int64, helpful bool) error
}

// Service is the knowledge base's use cases.
type Service struct {
	store Store
	clock clock.Clock
}

// NewService returns the service.
func NewService(s Store, c clock.Clock) *Service {
	if c == nil {
		c = clock.Real{}
	}
	return &Service{store: s, clock: c}
}

var slugRe = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Slugify makes a URL slug from a title: ASCII letters and digits, umlauts spelled out.
func Slugify(s string) string {
	s = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "Ä", "ae", "Ö", "oe", "Ü", "ue").Replace(s)
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if len(out) > 80 {
		out = strings.TrimSuffix(out[:80], "-")
	}
	return out
}

// NewCategory adds a category. Returns an Invalid *instance.Error or ErrConflict.
func (s *Service) NewCategory(ctx context.Context, name, description string) (Category, error) {
	p := instance.Fields{}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		p.Add("name", "required_max", "is required, at most %d characters", 100)
	}
	if err := p.Err(); err != nil {
		return Category{}, err
	}
	now := s.clock.Now()
	c := Category{Slug: Slugify(name), Name: name, Description: strings.TrimSpace(description), CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateCategory(ctx, &c); err != nil {
		return Category{}, fmt.Errorf("create category: %w", err)
	}
	return c, nil
}

// Categories lists the categories in order.
func (s *Service) Categories(ctx context.Context) ([]Category, error) { return s.store.Categories(ctx) }

// CategoryBySlug returns instance.ErrNotFound for an unknown slug.
func (s *Service) CategoryBySlug(ctx context.Context, slug string) (Category, error) {
	return s.store.FindCategoryBySlug(ctx, slug)
}

// Input is what an author writes.
type Input struct {
	Title, Body, Language, Slug string
	CategoryID                  *int64
	Publish                     bool
}

// Save writes an article (id 0: a new one): the Markdown is rendered and sanitized
// once, here. Returns an Invalid *instance.Error, instance.ErrConflict (slug taken),
// or instance.ErrNotFound.
func (s *Service) Save(ctx context.Context, by accounts.Principal, id int64, d Input) (Article, error) {
	p := instance.Fields{}
	d.Title = strings.TrimSpace(d.Title)
	if d.Title == "" || utf8.RuneCountInString(d.Title) > 200 {
		p.Add("title", "required_max", "is required, at most %d characters", 200)
	}
	if strings.TrimSpace(d.Body) == "" || len(d.Body) > 500_000 {
		p.Add("body", "required_max_bytes", "is required, at most %s bytes", "500,000")
	}
	if d.Language == "" {
		d.Language = "en"
	}
	if d.Language != "en" && d.Language != "de" {
		p.Add("language", "one_of", "must be %s", "en or de")
	}
	if d.Slug == "" {
		d.Slug = Slugify(d.Title)
	}
	if !slugRe.MatchString(d.Slug) || len(d.Slug) > 80 {
		p.Add("slug", "slug", "must be lower-case letters, digits and hyphens")
	}
	if err := p.Err(); err != nil {
		return Article{}, err
	}
	now := s.clock.Now()
	a := Article{CreatedAt: now, AuthorID: &by.User.ID}
	if id != 0 {
		var err error
		if a, err = s.store.FindArticle(ctx, id); err != nil {
			return Article{}, err
		}
	}
	a.Title, a.BodyMD, a.BodyHTML, a.Language, a.Slug, a.CategoryID, a.UpdatedAt = d.Title, d.Body, RenderMarkdown(d.Body), d.Language, d.Slug, d.CategoryID, now
	a.Status = Draft
	if d.Publish {
		a.Status = Published
		if a.PublishedAt == nil {
			a.PublishedAt = &now
		}
	}
	if err := s.store.SaveArticle(ctx, &a); err != nil {
		return Article{}, fmt.Errorf("save article: %w", err)
	}
	return a, nil
}

// Get returns an article. Returns instance.ErrNotFound.
func (s *Service) Get(ctx context.Context, id int64) (Article, error) {
	return s.store.FindArticle(ctx, id)
}

// Public returns a published article by slug; a draft is instance.ErrNotFound.
func (s *Service) Public(ctx context.Context, slug string) (Article, error) {
	a, err := s.store.FindArticleBySlug(ctx, slug)
	if err == nil && a.Status != Published {
		return Article{}, instance.ErrNotFound
	}
	return a, err
}

// List returns a category's articles (0: all).
func (s *Service) List(ctx context.Context, categoryID int64, onlyPublished bool) ([]Article, error) {
	return s.store.Articles(ctx, categoryID, onlyPublished)
}

// Search finds articles for a query, best first, with the matched words highlighted.
func (s *Service) Search(ctx context.Context, query string, onlyPublished bool, limit int) ([]Hit, error) {
	query = strings.TrimSpace(query)
	if len(Words(query)) == 0 {
		return nil, nil
	}
	if len(query) > 200 {
		return nil, instance.InvalidField("q", "too_long", "is longer than %d characters", 200)
	}
	arts, err := s.store.Search(ctx, query, onlyPublished, limit)
	if err != nil {
		return nil, err
	}
	stems := QueryStems(query)
	hits := make([]Hit, len(arts))
	for i, a := range arts {
		hits[i] = Hit{Article: a, TitleHTML: template.HTML(Highlight(a.Language, a.Title, stems)),
			SnippetHTML: template.HTML(Highlight(a.Language, Snippet(a.Language, PlainText(a.BodyHTML), stems, 180), stems))}
	}
	return hits, nil
}

// Vote counts a "was this helpful" answer for a published article.
func (s *Service) Vote(ctx context.Context, slug string, helpful bool) error {
	a, err := s.Public(ctx, slug)
	if err != nil {
		return err
	}
	return s.store.Vote(ctx, a.ID, helpful)
}
