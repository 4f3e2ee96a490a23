package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/kb"
)

// pageKB is the public portal: categories, or search results with the matches marked.
func (s *kbArea) pageKB(c echo.Context) error {
	ctx := c.Request().Context()
	d := s.pages.Page(c, "kb.title")
	q := c.QueryParam("q")
	d.Form["q"] = q
	var data struct {
		Categories []kb.Category
		Articles   []kb.Article
		Hits       []kb.Hit
	}
	var err error
	if q != "" {
		if data.Hits, err = s.kb.Search(ctx, q, true, 20); err != nil {
			return err
		}
	} else {
		if data.Categories, err = s.kb.Categories(ctx); err != nil {
			return err
		}
		if data.Articles, err = s.kb.List(ctx, 0, true); err != nil {
			return err
		}
	}
	d.Data = data
	return s.pages.Render(c, http.StatusOK, "kb_home", d)
}

func (s *kbArea) pageKBCategory(c echo.Context) error {
	ctx := c.Request().Context()
	cat, err := s.kb.CategoryBySlug(ctx, c.Param("slug"))
	if err != nil {
		return err
	}
	as, err := s.kb.List(ctx, cat.ID, true)
	if err != nil {
		return err
	}
	d := s.pages.Page(c, "kb.title")
	d.Title = cat.Name
	d.Data = struct {
		Category kb.Category
		Articles []kb.Article
	}{cat, as}
	return s.pages.Render(c, http.StatusOK, "kb_category", d)
}

func (s *kbArea) pageKBArticle(c echo.Context) error {
	return s.renderKBArticle(c, false)
}

func (s *kbArea) renderKBArticle(c echo.Context, voted bool) error {
	a, err := s.kb.Public(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	d := s.pages.Page(c, "kb.title")
	d.Title = a.Title
	d.Data = struct {
		Article kb.Article
		Body    template.HTML // rendered and sanitized when it was saved
		Voted   bool
	}{a, template.HTML(a.BodyHTML), voted}
	return s.pages.Render(c, http.StatusOK, "kb_article", d)
}

// pageKBHelpful counts a vote; each address may vote a few times an hour.
func (s *kbArea) pageKBHelpful(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	if s.voteLimit.Take(addressKey(c)) == 0 {
		if err := s.kb.Vote(c.Request().Context(), c.Param("slug"), f.Get("helpful") == "yes"); err != nil {
			return err
		}
	}
	return s.renderKBArticle(c, true)
}

func (s *kbArea) pageKnowledge(c echo.Context) error {
	as, err := s.kb.List(c.Request().Context(), 0, false)
	if err != nil {
		return err
	}
	d := s.pages.Page(c, "nav.knowledge")
	d.Data = as
	return s.pages.Render(c, http.StatusOK, "knowledge", d)
}

type editorData struct {
	Action     string
	Categories []kb.Category
}

func (s *kbArea) renderEditor(c echo.Context, status int, d pageData, action string) error {
	cats, err := s.kb.Categories(c.Request().Context())
	if err != nil {
		return err
	}
	d.Data = editorData{Action: action, Categories: cats}
	return s.pages.Render(c, status, "knowledge_edit", d)
}

func (s *kbArea) pageNewArticle(c echo.Context) error {
	d := s.pages.Page(c, "kb.new")
	d.Form["language"] = d.Lang
	return s.renderEditor(c, http.StatusOK, d, "/knowledge")
}

func (s *kbArea) pageEditArticle(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, err := s.kb.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	d := s.pages.Page(c, "kb.edit")
	d.Form["title"], d.Form["slug"], d.Form["body"], d.Form["language"] = a.Title, a.Slug, a.BodyMD, a.Language
	if a.CategoryID != nil {
		d.Form["category_id"] = strconv.FormatInt(*a.CategoryID, 10)
	}
	if a.Status == kb.Published {
		d.Form["publish"] = "yes"
	}
	return s.renderEditor(c, http.StatusOK, d, fmt.Sprintf("/knowledge/%d", a.ID))
}

func (s *kbArea) pageSaveArticle(c echo.Context) error {
	var id int64
	if c.Param("id") != "" {
		var err error
		if id, err = pathID(c); err != nil {
			return err
		}
	}
	f, err := form(c)
	if err != nil {
		return err
	}
	in := kb.Input{Title: f.Get("title"), Body: f.Get("body"), Language: f.Get("language"), Slug: f.Get("slug"), Publish: f.Get("publish") == "yes"}
	if v := f.Get("category_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			in.CategoryID = &n
		}
	}
	a, err := s.kb.Save(c.Request().Context(), mustPrincipal(c), id, in)
	fields, invalid := fieldErrors(err)
	if isConflict(err) {
		fields, invalid = map[string]string{"slug": "is taken by another article"}, true
	}
	if invalid {
		d := s.pages.Page(c, "kb.edit")
		d.Errors, d.Error = fields, translate(d.Lang, "form.fix")
		for _, k := range []string{"title", "slug", "body", "language", "category_id", "publish"} {
			d.Form[k] = f.Get(k)
		}
		action := "/knowledge"
		if id != 0 {
			action = fmt.Sprintf("/knowledge/%d", id)
		}
		return s.renderEditor(c, http.StatusUnprocessableEntity, d, action)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/knowledge?saved="+strconv.FormatInt(a.ID, 10))
}
