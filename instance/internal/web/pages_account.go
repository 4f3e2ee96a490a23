package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sproudstack/sproudchat/instance"
)

var accountFlashes = map[string]string{"saved": "account.saved", "password": "account.changed", "revoked": "account.token_revoked"}

func (s *accountsArea) pageAccount(c echo.Context) error {
	d := s.pages.Page(c, "account.title")
	if key, ok := accountFlashes[c.QueryParam("ok")]; ok {
		d.Flash = translate(d.Lang, key)
	}
	return s.renderAccount(c, http.StatusOK, d)
}

func (s *accountsArea) renderAccount(c echo.Context, status int, d pageData) error {
	tokens, err := s.accounts.ListTokens(c.Request().Context(), mustPrincipal(c))
	if err != nil {
		return err
	}
	d.Data = tokens
	return s.pages.Render(c, status, "account", d)
}

// accountFormError re-renders the account page with field errors, or passes err on.
func (s *accountsArea) accountFormError(c echo.Context, err error, rename map[string]string) error {
	fields, ok := fieldErrors(err)
	if !ok {
		return err
	}
	d := s.pages.Page(c, "account.title")
	d.Errors, d.Error = map[string]string{}, translate(d.Lang, "form.fix")
	for k, v := range fields {
		if r, ok := rename[k]; ok {
			k = r
		}
		d.Errors[k] = v
	}
	return s.renderAccount(c, http.StatusUnprocessableEntity, d)
}

func (s *accountsArea) pageUpdateProfile(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	name, locale := f.Get("name"), f.Get("locale")
	if _, err := s.accounts.UpdateProfile(c.Request().Context(), mustPrincipal(c), &name, &locale, meta(c)); err != nil {
		return s.accountFormError(c, err, nil)
	}
	return c.Redirect(http.StatusSeeOther, "/account?ok=saved")
}

func (s *accountsArea) pageChangePassword(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	err = s.accounts.ChangePassword(c.Request().Context(), mustPrincipal(c), f.Get("current_password"), f.Get("new_password"), meta(c))
	if te, ok := instance.AsError(err); ok && te.Code == instance.Throttled {
		d := s.pages.Page(c, "account.title")
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds()+0.999)))
		d.Error = plural(d.Lang, "account.password_throttled", int((te.RetryAfter+time.Minute-1)/time.Minute))
		return s.renderAccount(c, http.StatusTooManyRequests, d)
	}
	if err != nil {
		return s.accountFormError(c, err, nil)
	}
	return c.Redirect(http.StatusSeeOther, "/account?ok=password")
}

// pageCreateToken shows the new token in the response itself, never in a URL, so it
// appears exactly once.
func (s *accountsArea) pageCreateToken(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	t, err := s.accounts.CreateToken(c.Request().Context(), mustPrincipal(c), f.Get("name"), meta(c))
	if err != nil {
		return s.accountFormError(c, err, map[string]string{"name": "token_name"})
	}
	d := s.pages.Page(c, "account.title")
	d.Form["new_token"] = t.Secret
	return s.renderAccount(c, http.StatusCreated, d)
}

func (s *accountsArea) pageRevokeToken(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.accounts.RevokeToken(c.Request().Context(), mustPrincipal(c), id, meta(c)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account?ok=revoked")
}
