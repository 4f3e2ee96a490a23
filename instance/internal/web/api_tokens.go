package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/platform/httpbody"
)

type tokenJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Token      string     `json:"token,omitempty"` // only in the create response
}

func toTokensJSON(ts []accounts.APIToken) []tokenJSON {
	out := make([]tokenJSON, len(ts))
	for i, t := range ts {
		out[i] = tokenJSON{ID: t.ID, Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt}
	}
	return out
}

func (s *accountsArea) apiListTokens(c echo.Context) error {
	ts, err := s.accounts.ListTokens(c.Request().Context(), mustPrincipal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listJSON[tokenJSON]{Items: toTokensJSON(ts)})
}

func (s *accountsArea) apiCreateToken(c echo.Context) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	t, err := s.accounts.CreateToken(c.Request().Context(), mustPrincipal(c), in.Name, meta(c))
	if err != nil {
		return err
	}
	out := toTokensJSON([]accounts.APIToken{t.APIToken})[0]
	out.Token = t.Secret
	return c.JSON(http.StatusCreated, out)
}

func (s *accountsArea) apiRevokeToken(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.accounts.RevokeToken(c.Request().Context(), mustPrincipal(c), id, meta(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
