package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/kb"
	"github.com/sproudstack/sproudchat/instance/internal/ratelimit"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
	"github.com/sproudstack/sproudchat/platform/httpbody"
	"github.com/sproudstack/sproudchat/platform/problem"
)

// kbService is what the knowledge base's pages and API need of kb.Service.
type kbService interface {
	Categories(ctx context.Context) ([]kb.Category, error)
	CategoryBySlug(ctx context.Context, slug string) (kb.Category, error)
	Get(ctx context.Context, id int64) (kb.Article, error)
	List(ctx context.Context, categoryID int64, onlyPublished bool) ([]kb.Article, error)
	NewCategory(ctx context.Context, name, description string) (kb.Category, error)
	Public(ctx context.Context, slug string) (kb.Article, error)
	Save(ctx context.Context, by accounts.Principal, id int64, d kb.Input) (kb.Article, error)
	Search(ctx context.Context, query string, onlyPublished bool, limit int) ([]kb.Hit, error)
	Vote(ctx context.Context, slug string, helpful bool) error
}

// kbArea serves the knowledge base: its public pages, the editors' pages and the API.
type kbArea struct {
	kb      kbService
	pages   *page.Renderer
	baseURL *url.URL
	// voteLimit allows each address 30 "was this helpful" votes an hour.
	voteLimit *ratelimit.Limiter
}

type categoryJSON struct {
	ID          int64  `json:"id"`
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type articleJSON struct {
	ID          int64      `json:"id"`
	CategoryID  *int64     `json:"category_id"`
	Slug        string     `json:"slug"`
	Title       string     `json:"title"`
	Body        string     `json:"body"`
	BodyHTML    string     `json:"body_html"`
	Language    string     `json:"language"`
	Status      string     `json:"status"`
	URL         string     `json:"url"`
	HelpfulYes  int        `json:"helpful_yes"`
	HelpfulNo   int        `json:"helpful_no"`
	UpdatedAt   time.Time  `json:"updated_at"`
	PublishedAt *time.Time `json:"published_at"`
}

func (s *kbArea) toArticleJSON(a kb.Article) articleJSON {
	return articleJSON{ID: a.ID, CategoryID: a.CategoryID, Slug: a.Slug, Title: a.Title, Body: a.BodyMD, BodyHTML: a.BodyHTML, Language: a.Language,
		Status: string(a.Status), URL: s.articleURL(a), HelpfulYes: a.HelpfulYes, HelpfulNo: a.HelpfulNo, UpdatedAt: a.UpdatedAt, PublishedAt: a.PublishedAt}
}

// articleURL is the public address of an article, for links in replies.
func (s *kbArea) articleURL(a kb.Article) string { return articleURL(s.baseURL, a) }

func articleURL(base *url.URL, a kb.Article) string { return base.String() + "/kb/a/" + a.Slug }

func (s *kbArea) apiKBCategories(c echo.Context) error {
	cs, err := s.kb.Categories(c.Request().Context())
	if err != nil {
		return err
	}
	out := listJSON[categoryJSON]{Items: make([]categoryJSON, len(cs))}
	for i, x := range cs {
		out.Items[i] = categoryJSON{ID: x.ID, Slug: x.Slug, Name: x.Name, Description: x.Description}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *kbArea) apiKBCreateCategory(c echo.Context) error {
	var in struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	x, err := s.kb.NewCategory(c.Request().Context(), in.Name, in.Description)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, categoryJSON{ID: x.ID, Slug: x.Slug, Name: x.Name, Description: x.Description})
}

func (s *kbArea) apiKBArticles(c echo.Context) error {
	var cat int64
	if v := c.QueryParam("category_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return problem.BadRequest("category_id must be a category id")
		}
		cat = n
	}
	as, err := s.kb.List(c.Request().Context(), cat, false)
	if err != nil {
		return err
	}
	out := listJSON[articleJSON]{Items: make([]articleJSON, len(as))}
	for i, a := range as {
		out.Items[i] = s.toArticleJSON(a)
	}
	return c.JSON(http.StatusOK, out)
}

type articleIn struct {
	Title      string `json:"title"`
	Body       string `json:"body"`
	Language   string `json:"language"`
	Slug       string `json:"slug"`
	CategoryID *int64 `json:"category_id"`
	Publish    bool   `json:"publish"`
}

func (s *kbArea) saveArticle(c echo.Context, id int64) error {
	var in articleIn
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	a, err := s.kb.Save(c.Request().Context(), mustPrincipal(c), id, kb.Input(in))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if id == 0 {
		status = http.StatusCreated
		c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/kb/articles/%d", a.ID))
	}
	return c.JSON(status, s.toArticleJSON(a))
}

func (s *kbArea) apiKBCreateArticle(c echo.Context) error { return s.saveArticle(c, 0) }

func (s *kbArea) apiKBUpdateArticle(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return s.saveArticle(c, id)
}

func (s *kbArea) apiKBArticle(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, err := s.kb.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toArticleJSON(a))
}

type hitJSON struct {
	articleJSON
	TitleHTML   string `json:"title_html"`
	SnippetHTML string `json:"snippet_html"`
}

func (s *kbArea) apiKBSearch(c echo.Context) error {
	hits, err := s.kb.Search(c.Request().Context(), c.QueryParam("q"), false, 20)
	if err != nil {
		return err
	}
	out := listJSON[hitJSON]{Items: make([]hitJSON, len(hits))}
	for i, h := range hits {
		out.Items[i] = hitJSON{articleJSON: s.toArticleJSON(h.Article), TitleHTML: string(h.TitleHTML), SnippetHTML: string(h.SnippetHTML)}
	}
	return c.JSON(http.StatusOK, out)
}
