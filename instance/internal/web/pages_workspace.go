package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
)

func pageHome(pages *page.Renderer) echo.HandlerFunc {
	return func(c echo.Context) error { return pages.Render(c, http.StatusOK, "home", pages.Page(c, "app.name")) }
}

// pageArea is the page of an area whose content arrives with a later part of the
// product: the navigation, permission and layout are real, the list is empty.
func pageArea(pages *page.Renderer, key string) echo.HandlerFunc {
	return func(c echo.Context) error {
		d := pages.Page(c, "nav."+key)
		d.Data = "area." + key
		return pages.Render(c, http.StatusOK, "area", d)
	}
}

func (s *accountsArea) pageUsers(c echo.Context) error {
	d := s.pages.Page(c, "users.title")
	if c.QueryParam("ok") != "" {
		if id, err := strconv.ParseInt(c.QueryParam("id"), 10, 64); err == nil {
			if u, err := s.accounts.FindUser(c.Request().Context(), id); err == nil {
				key := "users.updated"
				if c.QueryParam("ok") == "created" {
					key = "users.created"
				}
				d.Flash = translate(d.Lang, key, "Email", u.Email)
			}
		}
	}
	return s.renderUsers(c, http.StatusOK, d)
}

func (s *accountsArea) renderUsers(c echo.Context, status int, d pageData) error {
	users, err := s.accounts.ListUsers(c.Request().Context())
	if err != nil {
		return err
	}
	d.Data = users
	return s.pages.Render(c, status, "users", d)
}

func (s *accountsArea) pageCreateUser(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	in := accounts.NewUserInput{Name: f.Get("name"), Email: f.Get("email"), Password: f.Get("password"), Role: accounts.Role(f.Get("role"))}
	u, err := s.accounts.CreateUser(c.Request().Context(), mustPrincipal(c), in, meta(c))
	fields, invalid := fieldErrors(err)
	if errors.Is(err, instance.ErrConflict) {
		fields, invalid = map[string]string{"email": "is already taken"}, true
	}
	if invalid {
		d := s.pages.Page(c, "users.title")
		d.Errors, d.Error = fields, translate(d.Lang, "form.fix")
		d.Form["name"], d.Form["email"], d.Form["role"] = in.Name, in.Email, string(in.Role)
		status := http.StatusUnprocessableEntity
		if errors.Is(err, instance.ErrConflict) {
			status = http.StatusConflict
		}
		return s.renderUsers(c, status, d)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/users?ok=created&id="+strconv.FormatInt(u.ID, 10))
}

func (s *accountsArea) pageUpdateUser(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f, err := form(c)
	if err != nil {
		return err
	}
	var ch accounts.UserChanges
	if v := f.Get("role"); v != "" {
		r := accounts.Role(v)
		ch.Role = &r
	}
	if v := f.Get("ticket_scope"); v != "" {
		ch.TicketScope = &v
	}
	if v := f.Get("active"); v != "" {
		active := v == "true"
		ch.Active = &active
	}
	_, err = s.accounts.UpdateUser(c.Request().Context(), mustPrincipal(c), id, ch, meta(c))
	if err != nil && (errors.Is(err, instance.ErrConflict) || errors.Is(err, instance.ErrInvalid)) {
		d := s.pages.Page(c, "users.title")
		d.Error = err.Error()
		return s.renderUsers(c, toProblem(err).Status, d)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/users?ok=updated&id="+strconv.FormatInt(id, 10))
}
