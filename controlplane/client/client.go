package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to the provisioning API.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client for the API at base (http://host:port) with a Bearer token.
func New(base, token string) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

// do sends a request and decodes a 2xx JSON answer into out; any other answer becomes
// a *Problem.
func (c *Client) do(ctx context.Context, method, path string, hdr map[string]string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		p := &Problem{Status: res.StatusCode, Title: http.StatusText(res.StatusCode)}
		json.Unmarshal(b, p)
		return p
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

// CreateInstance asks for a new instance; key, when set, makes the call idempotent.
func (c *Client) CreateInstance(ctx context.Context, in CreateInstance, key string) (Instance, error) {
	var out Instance
	hdr := map[string]string{}
	if key != "" {
		hdr["Idempotency-Key"] = key
	}
	return out, c.do(ctx, "POST", "/v1/instances", hdr, in, &out)
}

// Instance returns one instance.
func (c *Client) Instance(ctx context.Context, id string) (Instance, error) {
	var out Instance
	return out, c.do(ctx, "GET", "/v1/instances/"+url.PathEscape(id), nil, nil, &out)
}

// ListOptions filter ListInstances.
type ListOptions struct {
	CustomerID, State, Cursor string
	Limit                     int
}

// ListInstances returns a page of instances.
func (c *Client) ListInstances(ctx context.Context, o ListOptions) (InstanceList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"customer_id": o.CustomerID, "state": o.State, "cursor": o.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	var out InstanceList
	return out, c.do(ctx, "GET", "/v1/instances?"+q.Encode(), nil, nil, &out)
}

func (c *Client) change(ctx context.Context, method, path string, in any) (Instance, error) {
	var out Instance
	return out, c.do(ctx, method, path, nil, in, &out)
}

// Suspend makes an instance read-only.
func (c *Client) Suspend(ctx context.Context, id, reason string) (Instance, error) {
	return c.change(ctx, "POST", "/v1/instances/"+url.PathEscape(id)+"/suspend", StateChange{Reason: reason})
}

// Resume makes a suspended instance writable again.
func (c *Client) Resume(ctx context.Context, id string) (Instance, error) {
	return c.change(ctx, "POST", "/v1/instances/"+url.PathEscape(id)+"/resume", StateChange{})
}

// Retry sends a failed instance back to work.
func (c *Client) Retry(ctx context.Context, id string) (Instance, error) {
	return c.change(ctx, "POST", "/v1/instances/"+url.PathEscape(id)+"/retry", nil)
}

// Destroy removes an instance now (admin scope).
func (c *Client) Destroy(ctx context.Context, id string) (Instance, error) {
	return c.change(ctx, "DELETE", "/v1/instances/"+url.PathEscape(id), nil)
}

// Events returns an instance's history.
func (c *Client) Events(ctx context.Context, id string) (EventList, error) {
	var out EventList
	return out, c.do(ctx, "GET", "/v1/instances/"+url.PathEscape(id)+"/events", nil, nil, &out)
}

// Logs returns the tail of an instance's app log.
func (c *Client) Logs(ctx context.Context, id string, lines int) (Logs, error) {
	var out Logs
	return out, c.do(ctx, "GET", fmt.Sprintf("/v1/instances/%s/logs?lines=%d", url.PathEscape(id), lines), nil, nil, &out)
}

// Plans lists the plans.
func (c *Client) Plans(ctx context.Context) (PlanList, error) {
	var out PlanList
	return out, c.do(ctx, "GET", "/v1/plans", nil, nil, &out)
}

// CreateToken makes an API token.
func (c *Client) CreateToken(ctx context.Context, in CreateToken) (Token, error) {
	var out Token
	return out, c.do(ctx, "POST", "/v1/tokens", nil, in, &out)
}

// Tokens lists API tokens.
func (c *Client) Tokens(ctx context.Context) (TokenList, error) {
	var out TokenList
	return out, c.do(ctx, "GET", "/v1/tokens", nil, nil, &out)
}

// RevokeToken revokes a token.
func (c *Client) RevokeToken(ctx context.Context, id int64) error {
	return c.do(ctx, "DELETE", fmt.Sprintf("/v1/tokens/%d", id), nil, nil, nil)
}

// AddWebhook subscribes a URL.
func (c *Client) AddWebhook(ctx context.Context, in CreateWebhook) (Webhook, error) {
	var out Webhook
	return out, c.do(ctx, "POST", "/v1/webhooks", nil, in, &out)
}

// Webhooks lists subscriptions.
func (c *Client) Webhooks(ctx context.Context) (WebhookList, error) {
	var out WebhookList
	return out, c.do(ctx, "GET", "/v1/webhooks", nil, nil, &out)
}

// RemoveWebhook deletes a subscription.
func (c *Client) RemoveWebhook(ctx context.Context, id int64) error {
	return c.do(ctx, "DELETE", fmt.Sprintf("/v1/webhooks/%d", id), nil, nil, nil)
}

// Deliveries lists recent deliveries; webhookID 0 means all.
func (c *Client) Deliveries(ctx context.Context, webhookID int64, limit int) (DeliveryList, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if webhookID > 0 {
		q.Set("webhook_id", strconv.FormatInt(webhookID, 10))
	}
	var out DeliveryList
	return out, c.do(ctx, "GET", "/v1/webhooks/deliveries?"+q.Encode(), nil, nil, &out)
}

// Orphans lists runtime objects without a live instance.
func (c *Client) Orphans(ctx context.Context) (OrphanList, error) {
	var out OrphanList
	return out, c.do(ctx, "GET", "/v1/gc", nil, nil, &out)
}

// CollectOrphans removes the apps of runtime objects without a live instance, and their
// data as in says.
func (c *Client) CollectOrphans(ctx context.Context, in CollectOrphans) (OrphanList, error) {
	var out OrphanList
	return out, c.do(ctx, "POST", "/v1/gc", nil, in, &out)
}

// WaitFor polls an instance until its state is one of states, calling progress on every
// change. It returns early with an error when the instance fails.
func (c *Client) WaitFor(ctx context.Context, id string, progress func(Instance), states ...string) (Instance, error) {
	last := ""
	for {
		inst, err := c.Instance(ctx, id)
		if err != nil {
			return inst, err
		}
		if inst.State != last {
			progress(inst)
			last = inst.State
		}
		for _, s := range states {
			if inst.State == s {
				return inst, nil
			}
		}
		if inst.State == "failed" {
			return inst, fmt.Errorf("instance %s failed: %s", id, inst.LastError)
		}
		select {
		case <-ctx.Done():
			return inst, fmt.Errorf("waiting for %s to be %s: %w (now %s)", id, strings.Join(states, " or "), ctx.Err(), inst.State)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
