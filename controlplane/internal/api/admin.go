package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/provisioning"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

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

// WireToken turns a stored token into its API form.
func WireToken(t store.Token) client.Token {
	return client.Token{ID: t.ID, Name: t.Name, Scopes: t.Scopes, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

// ValidateToken checks a token request. Returns a *lifecycle.ValidationError.
func ValidateToken(in client.CreateToken) error {
	f := map[string]string{}
	if n := strings.TrimSpace(in.Name); n == "" || len(n) > 100 {
		f["name"] = "is required, at most 100 characters"
	}
	if len(in.Scopes) == 0 {
		f["scopes"] = "name at least one of instances:read, instances:write, admin"
	}
	for _, sc := range in.Scopes {
		if !slices.Contains(Scopes, Scope(sc)) {
			f["scopes"] = fmt.Sprintf("%q is not a scope (instances:read, instances:write, admin)", sc)
		}
	}
	if len(f) > 0 {
		return &lifecycle.ValidationError{Fields: f}
	}
	return nil
}

func (s *Server) listTokens(c echo.Context) error {
	ts, err := s.opts.Store.ListTokens(c.Request().Context())
	if err != nil {
		return err
	}
	out := client.TokenList{Items: make([]client.Token, len(ts))}
	for i, t := range ts {
		out.Items[i] = WireToken(t)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) createToken(c echo.Context) error {
	var in client.CreateToken
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := ValidateToken(in); err != nil {
		return err
	}
	raw := NewToken()
	t := store.Token{Name: strings.TrimSpace(in.Name), Hash: HashToken(raw), Scopes: in.Scopes, CreatedAt: s.opts.Clock.Now()}
	if err := s.opts.Store.CreateToken(c.Request().Context(), &t); err != nil {
		return err
	}
	out := WireToken(t)
	out.Token = raw
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) revokeToken(c echo.Context) error {
	id, err := pathInt(c)
	if err != nil {
		return err
	}
	if err := s.opts.Store.RevokeToken(c.Request().Context(), id, s.opts.Clock.Now()); err != nil {
		return err
	}
	s.tokens.forget()
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) wireWebhook(w store.Webhook) (client.Webhook, error) {
	u, err := s.opts.Box.Open(w.URL, secret.WebhookURL)
	if err != nil {
		return client.Webhook{}, fmt.Errorf("webhook %d: %w", w.ID, err)
	}
	return client.Webhook{ID: w.ID, URL: string(u), Events: w.Events, CreatedAt: w.CreatedAt}, nil
}

func (s *Server) listWebhooks(c echo.Context) error {
	hooks, err := s.opts.Store.ListWebhooks(c.Request().Context())
	if err != nil {
		return err
	}
	out := client.WebhookList{Items: []client.Webhook{}}
	for _, h := range hooks {
		w, err := s.wireWebhook(h)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, w)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) createWebhook(c echo.Context) error {
	var in client.CreateWebhook
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	f := map[string]string{}
	if u, err := url.Parse(in.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(in.URL) > 2000 {
		f["url"] = "must be an absolute http(s) URL"
	}
	if len(in.Events) == 0 {
		in.Events = lifecycle.EventTypes
	}
	for _, e := range in.Events {
		if !slices.Contains(lifecycle.EventTypes, e) {
			f["events"] = fmt.Sprintf("%q is not one of %s", e, strings.Join(lifecycle.EventTypes, ", "))
		}
	}
	if len(f) > 0 {
		return &lifecycle.ValidationError{Fields: f}
	}
	sec := "whsec_" + secret.Random(24)
	w := store.Webhook{URL: s.opts.Box.Seal([]byte(in.URL), secret.WebhookURL), Secret: s.opts.Box.Seal([]byte(sec), secret.WebhookSecret), Events: in.Events, CreatedAt: s.opts.Clock.Now()}
	if err := s.opts.Store.AddWebhook(c.Request().Context(), &w); err != nil {
		return err
	}
	out, _ := s.wireWebhook(w)
	out.Secret = sec
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) deleteWebhook(c echo.Context) error {
	id, err := pathInt(c)
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeleteWebhook(c.Request().Context(), id); err != nil {
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
	ds, err := s.opts.Store.ListDeliveries(c.Request().Context(), hook, limit)
	if err != nil {
		return err
	}
	out := client.DeliveryList{Items: make([]client.Delivery, len(ds))}
	for i, d := range ds {
		out.Items[i] = client.Delivery{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, Status: d.Status, Attempts: d.Attempts,
			LastError: d.LastError, ResponseCode: d.ResponseCode, CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt, NextAttempt: d.NextAttempt}
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
		inst, err := s.opts.Service.Get(ctx, st.ID)
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
	seen, err := s.opts.Store.OrphansSeen(ctx, owned(out))
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
	if err := decodeOptionalJSON(c, &in); err != nil {
		return err
	}
	out, err := s.orphans(ctx)
	if err != nil {
		return err
	}
	now := s.opts.Clock.Now()
	ids := owned(out)
	seen, err := s.opts.Store.SeeOrphans(ctx, ids, now)
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
	if err := s.opts.Store.ForgetOrphans(ctx, kept); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, client.OrphanList{Items: out})
}
