package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/wire"
	"github.com/sproudstack/sproudchat/platform/httpbody"
	"github.com/sproudstack/sproudchat/provisioning"
)

// translateRuntime maps the runtime's sentinels to the control plane's.
func translateRuntime(err error) error {
	if errors.Is(err, provisioning.ErrNotFound) {
		return fmt.Errorf("%w: the runtime has nothing of this instance", lifecycle.ErrNotFound)
	}
	return err
}

func pathInt(c echo.Context) (int64, error) {
	n, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || n < 1 {
		return 0, lifecycle.ErrNotFound
	}
	return n, nil
}

func (s *Server) listTokens(c echo.Context) error {
	ts, err := s.opts.Tokens.List(c.Request().Context())
	if err != nil {
		return err
	}
	out := client.TokenList{Items: make([]client.Token, len(ts))}
	for i, t := range ts {
		out.Items[i] = wire.Token(t)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) createToken(c echo.Context) error {
	var in client.CreateToken
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	t, raw, err := s.opts.Tokens.Create(c.Request().Context(), lifecycle.TokenRequest(in))
	if err != nil {
		return err
	}
	out := wire.Token(t)
	out.Token = raw
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) revokeToken(c echo.Context) error {
	id, err := pathInt(c)
	if err != nil {
		return err
	}
	if err := s.opts.Tokens.Revoke(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listWebhooks(c echo.Context) error {
	hooks, err := s.opts.Webhooks.List(c.Request().Context())
	if err != nil {
		return err
	}
	out := client.WebhookList{Items: make([]client.Webhook, len(hooks))}
	for i, h := range hooks {
		out.Items[i] = wire.Webhook(h)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) createWebhook(c echo.Context) error {
	var in client.CreateWebhook
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	h, err := s.opts.Webhooks.Create(c.Request().Context(), lifecycle.WebhookRequest(in))
	if err != nil {
		return err
	}
	out := wire.Webhook(h)
	out.Secret = h.Secret
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) deleteWebhook(c echo.Context) error {
	id, err := pathInt(c)
	if err != nil {
		return err
	}
	if err := s.opts.Webhooks.Delete(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listDeliveries(c echo.Context) error {
	var hook int64
	limit := 50
	f := map[string]string{}
	if v := c.QueryParam("webhook_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			f["webhook_id"] = "must be a webhook id"
		}
		hook = n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			f["limit"] = "must be a number from 1 to 500"
		}
		limit = n
	}
	if len(f) > 0 {
		return &lifecycle.ValidationError{Fields: f}
	}
	ds, err := s.opts.Webhooks.Deliveries(c.Request().Context(), hook, limit)
	if err != nil {
		return err
	}
	out := client.DeliveryList{Items: make([]client.Delivery, len(ds))}
	for i, d := range ds {
		out.Items[i] = wire.Delivery(d)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) listOrphans(c echo.Context) error {
	out, err := s.opts.GC.Orphans(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wireOrphans(out))
}

func (s *Server) collectOrphans(c echo.Context) error {
	var in client.CollectOrphans
	if err := httpbody.DecodeOptionalJSON(c.Request(), &in); err != nil {
		return err
	}
	out, err := s.opts.GC.Collect(c.Request().Context(), in.Volumes)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wireOrphans(out))
}

func wireOrphans(os []lifecycle.Orphan) client.OrphanList {
	out := client.OrphanList{Items: make([]client.Orphan, len(os))}
	for i, o := range os {
		out.Items[i] = wire.Orphan(o)
	}
	return out
}
