package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
)

// safeNext keeps post-login redirects on this site: a path starting with exactly one
// "/", with no scheme or host, else "/". Browsers drop tabs and newlines inside a URL and
// read a backslash as "/", so "/<tab>/evil" and "/<backslash>evil" would become "//evil",
// another host: any backslash, control or format character or white space is refused,
// in the value as given and in its percent-decoded path.
func safeNext(next string) string {
	if !sitePath(next) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !sitePath(u.Path) {
		return "/"
	}
	return next
}

// sitePath tells whether p starts with exactly one "/" and holds nothing a browser
// would drop or turn into a "/".
func sitePath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") &&
		!strings.ContainsFunc(p, func(r rune) bool {
			return r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError
		})
}

func (s *accountsArea) pageLogin(c echo.Context) error {
	if _, ok := principalOf(c); ok {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	return s.renderLogin(c, http.StatusOK, "", c.QueryParam("next"), "")
}

func (s *accountsArea) renderLogin(c echo.Context, status int, email, next, errMsg string) error {
	pending, err := s.accounts.SetupPending(c.Request().Context())
	if err != nil {
		return err
	}
	d := s.pages.Page(c, "login.title")
	d.Form["email"], d.Form["next"], d.Error = email, next, errMsg
	if c.QueryParam("out") == "1" {
		d.Flash = translate(d.Lang, "login.logged_out")
	}
	d.Data = struct{ SetupPending bool }{pending}
	return s.pages.Render(c, status, "login", d)
}

func (s *accountsArea) pageLoginSubmit(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	res, err := s.accounts.Login(c.Request().Context(), f.Get("email"), f.Get("password"), meta(c))
	te, _ := instance.AsError(err)
	switch {
	case te != nil && te.Code == instance.Throttled:
		secs := int(te.RetryAfter.Seconds() + 0.999)
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		return s.renderLogin(c, http.StatusTooManyRequests, f.Get("email"), f.Get("next"), plural(lang(c.Request(), nil), "login.throttled", (secs+59)/60))
	case errors.Is(err, instance.ErrUnauthorized):
		return s.renderLogin(c, http.StatusUnauthorized, f.Get("email"), f.Get("next"), translate(lang(c.Request(), nil), "login.failed"))
	case errors.Is(err, instance.ErrBusy):
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(busyRetryAfter/time.Second)))
		return s.renderLogin(c, http.StatusServiceUnavailable, f.Get("email"), f.Get("next"), translate(lang(c.Request(), nil), "login.busy"))
	case err != nil:
		return err
	}
	s.cookies.set(c, res.Token, res.ExpiresAt)
	return c.Redirect(http.StatusSeeOther, safeNext(f.Get("next")))
}

func (s *accountsArea) pageLogout(c echo.Context) error {
	if err := s.accounts.Logout(c.Request().Context(), mustPrincipal(c), meta(c)); err != nil {
		return err
	}
	s.cookies.clear(c)
	return c.Redirect(http.StatusSeeOther, "/login?out=1")
}

func (s *accountsArea) pageSetup(c echo.Context) error {
	token := c.QueryParam("token")
	d := s.pages.Page(c, "setup.title")
	status := http.StatusOK
	switch err := s.accounts.CheckSetupToken(c.Request().Context(), token); {
	case err == nil:
		d.Data, d.Form["token"] = true, token
	case errors.Is(err, instance.ErrGone):
		d.Flash = translate(d.Lang, "setup.done")
	case errors.Is(err, instance.ErrForbidden):
		status, d.Error = http.StatusForbidden, translate(d.Lang, "setup.invalid")
	default:
		return err
	}
	return s.pages.Render(c, status, "setup", d)
}

// pageSetupSubmit creates the first admin and logs them straight in.
func (s *accountsArea) pageSetupSubmit(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	in := accounts.SetupInput{Token: f.Get("token"), Name: f.Get("name"), Email: f.Get("email"), Password: f.Get("password")}
	_, err = s.accounts.Setup(c.Request().Context(), in, meta(c))
	if fields, ok := fieldErrors(err); ok {
		d := s.pages.Page(c, "setup.title")
		d.Data, d.Errors, d.Error = true, fields, translate(d.Lang, "form.fix")
		d.Form["token"], d.Form["name"], d.Form["email"] = in.Token, in.Name, in.Email
		return s.pages.Render(c, http.StatusUnprocessableEntity, "setup", d)
	}
	if errors.Is(err, instance.ErrForbidden) || errors.Is(err, instance.ErrGone) {
		return s.pageSetupRefused(c, err)
	}
	if err != nil {
		return err
	}
	res, err := s.accounts.Login(c.Request().Context(), in.Email, in.Password, meta(c))
	if err != nil {
		return err
	}
	s.cookies.set(c, res.Token, res.ExpiresAt)
	return c.Redirect(http.StatusSeeOther, "/")
}

func (s *accountsArea) pageSetupRefused(c echo.Context, err error) error {
	d := s.pages.Page(c, "setup.title")
	status := http.StatusGone
	d.Flash = translate(d.Lang, "setup.done")
	if errors.Is(err, instance.ErrForbidden) {
		status, d.Flash, d.Error = http.StatusForbidden, "", translate(d.Lang, "setup.invalid")
	}
	return s.pages.Render(c, status, "setup", d)
}

// fieldErrors tells whether err is a validation error, and its fields.
func fieldErrors(err error) (map[string]string, bool) { return page.FieldErrors(err) }
