package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/i18n"
	"github.com/sproudstack/sproudchat/platform/problem"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// pages draws the server-rendered pages: one template set per page, each the layout
// plus that page, and what every page shows (the read-only notice). Every area's
// handler draws its pages through it.
type pages struct {
	sets          map[string]*template.Template
	readOnly      bool
	readOnlyUntil time.Time
	log           *slog.Logger
	// translator is the request's translator (Server.translator).
	translator func(ctx context.Context, lang string) i18n.Translator
}

var funcs = template.FuncMap{
	"t":     translate,
	"n":     plural,
	"roles": func() []accounts.Role { return accounts.Roles },
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
}

func loadPages(readOnly bool, readOnlyUntil time.Time, log *slog.Logger) (*pages, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{sets: map[string]*template.Template{}, readOnly: readOnly, readOnlyUntil: readOnlyUntil, log: log}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		set, err := template.Must(layout.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", base, err)
		}
		p.sets[strings.TrimSuffix(base, ".html")] = set
	}
	return p, nil
}

// pageData is what every page template gets.
type pageData struct {
	Lang          string
	Tr            i18n.Translator // the page's language, and times in the instance's zone
	Title         string
	Path          string
	User          *accounts.User
	CSRF          string
	ReadOnly      bool
	ReadOnlyUntil string
	Nav           []navLink
	Flash         string
	Error         string
	Errors        map[string]string
	Form          map[string]string
	Data          any
	principal     accounts.Principal
}

type navLink struct {
	Label  string
	Path   string
	Active bool
}

// Can lets a template show only what the user may do.
func (d pageData) Can(p string) bool { return d.User != nil && d.principal.Can(accounts.Permission(p)) }

// page builds the data every page shares from the request.
func (s *pages) page(c echo.Context, titleKey string) pageData {
	d := pageData{Path: c.Request().URL.Path, ReadOnly: s.readOnly, Form: map[string]string{}}
	p, ok := principalOf(c)
	if ok {
		d.principal, d.User, d.CSRF = p, &p.User, p.CSRFToken
	}
	d.Lang = lang(c.Request(), d.User)
	d.Tr = s.translator(c.Request().Context(), d.Lang)
	d.Title = translate(d.Lang, titleKey)
	if !s.readOnlyUntil.IsZero() {
		d.ReadOnlyUntil = s.readOnlyUntil.Format("2006-01-02")
	}
	if ok {
		for _, n := range navigation {
			if p.Can(n.Perm) {
				d.Nav = append(d.Nav, navLink{Label: translate(d.Lang, n.Key), Path: n.Path, Active: strings.HasPrefix(d.Path, n.Path) ||
					(n.Path == "/settings/users" && strings.HasPrefix(d.Path, "/settings"))})
			}
		}
	}
	return d
}

// render writes page name with status; a template error is a 500, never half a page.
func (s *pages) render(c echo.Context, status int, name string, d pageData) error {
	set, ok := s.sets[name]
	if !ok {
		return fmt.Errorf("render: no page %q", name)
	}
	d.Errors = d.Tr.Fields(d.Errors)
	var buf bytes.Buffer
	if err := set.ExecuteTemplate(&buf, "layout.html", d); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	c.Response().Header().Set("Content-Language", d.Lang)
	return c.HTMLBlob(status, buf.Bytes())
}

// renderError shows an error as a page, in the user's language.
func (s *pages) renderError(c echo.Context, p problem.Problem) {
	d := s.page(c, "error.title")
	d.Error = errorText(d.Lang, p.Status, p.Detail)
	d.Data = p
	if err := s.render(c, p.Status, "error", d); err != nil {
		s.log.ErrorContext(c.Request().Context(), "render error page", "error", err.Error(), "request_id", requestID(c))
		c.String(p.Status, http.StatusText(p.Status))
	}
}

func static(c echo.Context) error {
	name := path.Clean("static/" + c.Param("*"))
	b, err := staticFiles.ReadFile(name)
	if err != nil || !strings.HasPrefix(name, "static/") {
		return echo.ErrNotFound
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	ct := "application/octet-stream"
	switch path.Ext(name) {
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	return c.Blob(http.StatusOK, ct, b)
}

// formProblem answers a refused form: the page (titleKey) again, drawn by render, with
// each field's reason, 422, or 409 naming conflictField when the value is already in
// use. Errors that are not about the input pass on to the error handler.
func (s *pages) formProblem(c echo.Context, err error, titleKey, conflictField string, render func(d pageData, status int) error) error {
	fields, invalid := fieldErrors(err)
	status := http.StatusUnprocessableEntity
	if conflictField != "" && errors.Is(err, instance.ErrConflict) {
		fields, invalid, status = map[string]string{conflictField: "is already in use"}, true, http.StatusConflict
	}
	if !invalid {
		return err
	}
	d := s.page(c, titleKey)
	d.Errors, d.Error = fields, translate(d.Lang, "form.fix")
	return render(d, status)
}
