// Package page draws the instance's server-rendered pages: one template set per page
// (the layout plus that page), the data every page shares (language, user, CSRF token,
// navigation, read-only notice), error pages, and forms answered again with each
// field's reason. The templates, texts and navigation are the web package's, passed in.
package page

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/i18n"
	"github.com/sproudstack/sproudchat/instance/internal/web/guard"
	"github.com/sproudstack/sproudchat/platform/problem"
	"github.com/sproudstack/sproudchat/platform/requestid"
)

// NavItem is an entry of the agent navigation, shown to those who hold its permission.
type NavItem struct {
	Key  string // message key
	Path string
	Perm accounts.Permission
}

// Options configure a Renderer.
type Options struct {
	// Templates holds templates/layout.html and templates/<page>.html, one a page.
	Templates fs.FS
	Funcs     template.FuncMap
	Nav       []NavItem
	ReadOnly  bool
	// ReadOnlyUntil is shown with the read-only notice; zero shows none.
	ReadOnlyUntil time.Time
	Log           *slog.Logger
	// Lang picks a request's language, Translator renders texts in it, and ErrorText
	// says what an error page shows for a status.
	Lang       func(r *http.Request, u *accounts.User) string
	Translator func(ctx context.Context, lang string) i18n.Translator
	ErrorText  func(lang string, status int, detail string) string
}

// Renderer draws the pages. Every area's handler draws its pages through one.
type Renderer struct {
	o    Options
	sets map[string]*template.Template
}

// New parses the templates. Returns an error for a template that does not parse.
func New(o Options) (*Renderer, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	layout, err := template.New("layout.html").Funcs(o.Funcs).ParseFS(o.Templates, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	names, err := fs.Glob(o.Templates, "templates/*.html")
	if err != nil {
		return nil, err
	}
	r := &Renderer{o: o, sets: map[string]*template.Template{}}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		set, err := template.Must(layout.Clone()).ParseFS(o.Templates, n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", base, err)
		}
		r.sets[strings.TrimSuffix(base, ".html")] = set
	}
	return r, nil
}

// Names lists the pages, sorted.
func (r *Renderer) Names() []string {
	out := make([]string, 0, len(r.sets))
	for n := range r.sets {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Data is what every page template gets.
type Data struct {
	Lang          string
	Tr            i18n.Translator // the page's language, and times in the instance's zone
	Title         string
	Path          string
	User          *accounts.User
	CSRF          string
	ReadOnly      bool
	ReadOnlyUntil string
	Nav           []NavLink
	Flash         string
	Error         string
	Errors        map[string]string
	Form          map[string]string
	Data          any
	principal     accounts.Principal
}

// NavLink is an entry of the navigation as a page shows it.
type NavLink struct {
	Label  string
	Path   string
	Active bool
}

// Can lets a template show only what the user may do.
func (d Data) Can(p string) bool { return d.User != nil && d.principal.Can(accounts.Permission(p)) }

// Page builds the data every page shares from the request, titled titleKey.
func (r *Renderer) Page(c echo.Context, titleKey string) Data {
	d := Data{Path: c.Request().URL.Path, ReadOnly: r.o.ReadOnly, Form: map[string]string{}}
	p, ok := guard.PrincipalOf(c)
	if ok {
		d.principal, d.User, d.CSRF = p, &p.User, p.CSRFToken
	}
	d.Lang = r.o.Lang(c.Request(), d.User)
	d.Tr = r.o.Translator(c.Request().Context(), d.Lang)
	d.Title = d.Tr.T(titleKey)
	if !r.o.ReadOnlyUntil.IsZero() {
		d.ReadOnlyUntil = r.o.ReadOnlyUntil.Format("2006-01-02")
	}
	if ok {
		for _, n := range r.o.Nav {
			if p.Can(n.Perm) {
				d.Nav = append(d.Nav, NavLink{Label: d.Tr.T(n.Key), Path: n.Path, Active: strings.HasPrefix(d.Path, n.Path) ||
					(n.Path == "/settings/users" && strings.HasPrefix(d.Path, "/settings"))})
			}
		}
	}
	return d
}

// Render writes page name with status; a template error is a 500, never half a page.
func (r *Renderer) Render(c echo.Context, status int, name string, d Data) error {
	set, ok := r.sets[name]
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

// RenderError shows an error as a page, in the user's language.
func (r *Renderer) RenderError(c echo.Context, p problem.Problem) {
	d := r.Page(c, "error.title")
	d.Error = r.o.ErrorText(d.Lang, p.Status, p.Detail)
	d.Data = p
	if err := r.Render(c, p.Status, "error", d); err != nil {
		r.o.Log.ErrorContext(c.Request().Context(), "render error page", "error", err.Error(), "request_id", requestid.FromContext(c.Request().Context()))
		c.String(p.Status, http.StatusText(p.Status))
	}
}

// FieldErrors returns what is wrong with each field of err's invalid input (in
// English; Render shows them in the page's language), and whether there is any.
func FieldErrors(err error) (map[string]string, bool) {
	fields, ok := instance.FieldErrors(err)
	if !ok {
		return nil, false
	}
	return fields.Messages(nil), true
}

// FormProblem answers a refused form: the page (titleKey) again, drawn by render, with
// each field's reason, 422, or 409 naming conflictField when the value is already in
// use. Errors that are not about the input pass on to the error handler.
func (r *Renderer) FormProblem(c echo.Context, err error, titleKey, conflictField string, render func(d Data, status int) error) error {
	fields, invalid := FieldErrors(err)
	status := http.StatusUnprocessableEntity
	if conflictField != "" && errors.Is(err, instance.ErrConflict) {
		fields, invalid, status = map[string]string{conflictField: "is already in use"}, true, http.StatusConflict
	}
	if !invalid {
		return err
	}
	d := r.Page(c, titleKey)
	d.Errors, d.Error = fields, d.Tr.T("form.fix")
	return render(d, status)
}
