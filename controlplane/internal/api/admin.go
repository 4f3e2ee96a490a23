package api

import (
	"context"
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

// orphans are runtime objects whose instance the store does not know or knows as
// destroyed. The runtime lists only this control plane's objects, and those made before
// objects named their owner (Unowned): those may be another control plane's.
func (s *Server) orphans(ctx context.Context) ([]client.Orphan, error) {
	all, err := s.opts.Runtime.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list runtime: %w", err)
	}
	out := []client.Orphan{}
	for _, st := range all {
		o := client.Orphan{InstanceID: st.ID, Slug: st.Slug, Phase: string(st.Phase), Unowned: st.Unowned}
		inst, err := s.opts.Instances.Get(ctx, st.ID)
		switch {
		case errors.Is(err, lifecycle.ErrNotFound):
			o.Reason = "unknown to the control plane"
		case err != nil:
			return nil, err
		case inst.State == lifecycle.Destroyed:
			o.Reason = "destroyed"
		default:
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// owned returns the ids of the orphans gc may remove.
func owned(list []client.Orphan) []string {
	var ids []string
	for _, o := range list {
		if !o.Unowned {
			ids = append(ids, o.InstanceID)
		}
	}
	return ids
}

func (s *Server) listOrphans(c echo.Context) error {
	ctx := c.Request().Context()
	out, err := s.orphans(ctx)
	if err != nil {
		return err
	}
	seen, err := s.opts.Orphans.OrphansSeen(ctx, owned(out))
	if err != nil {
		return err
	}
	for i, o := range out {
		if t, ok := seen[o.InstanceID]; ok {
			at := t.Add(s.opts.OrphanDataGrace)
			out[i].DataRemovableAt = &at
		}
	}
	return c.JSON(http.StatusOK, client.OrphanList{Items: out})
}

// collectOrphans removes what gc may of each orphan: its app (containers, network,
// secrets) at once; its data (volumes) only when the request asks for it and the grace
// period since the first gc that found the orphan has passed, so that an instance
// orphaned by mistake (a store restored from an old backup, say) is missed by its
// customers before its data is gone. Unowned orphans are reported, never removed: they
// may belong to another control plane on the same engine.
func (s *Server) collectOrphans(c echo.Context) error {
	ctx := c.Request().Context()
	var in client.CollectOrphans
	if err := httpbody.DecodeOptionalJSON(c.Request(), &in); err != nil {
		return err
	}
	out, err := s.orphans(ctx)
	if err != nil {
		return err
	}
	now := s.opts.Clock.Now()
	ids := owned(out)
	seen, err := s.opts.Orphans.SeeOrphans(ctx, ids, now)
	if err != nil {
		return err
	}
	var kept []string
	for i, o := range out {
		if o.Unowned {
			continue
		}
		removable := seen[o.InstanceID].Add(s.opts.OrphanDataGrace)
		if in.Volumes && !now.Before(removable) {
			if err := s.opts.Runtime.Destroy(ctx, o.InstanceID); err != nil {
				return fmt.Errorf("remove orphan %s: %w", o.InstanceID, err)
			}
			out[i].Removed = client.RemovedAll
			s.log.InfoContext(ctx, "orphan removed with its data", "instance_id", o.InstanceID, "reason", o.Reason)
			continue
		}
		if err := s.opts.Runtime.DestroyApp(ctx, o.InstanceID); err != nil {
			return fmt.Errorf("remove the app of orphan %s: %w", o.InstanceID, err)
		}
		out[i].Removed, out[i].DataRemovableAt = client.RemovedApp, &removable
		kept = append(kept, o.InstanceID)
		s.log.InfoContext(ctx, "orphan's app removed; data kept", "instance_id", o.InstanceID, "reason", o.Reason, "data_removable_at", removable)
	}
	if err := s.opts.Orphans.ForgetOrphans(ctx, kept); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, client.OrphanList{Items: out})
}
