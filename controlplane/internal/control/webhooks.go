package control

import (
	"context"
	"fmt"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// WebhookStore is what the webhook use cases need of persistence.
type WebhookStore interface {
	// AddWebhook stores w and sets its ID.
	AddWebhook(ctx context.Context, w *lifecycle.Webhook) error
	ListWebhooks(ctx context.Context) ([]lifecycle.Webhook, error)
	// FindWebhook and DeleteWebhook return lifecycle.ErrNotFound.
	FindWebhook(ctx context.Context, id int64) (lifecycle.Webhook, error)
	DeleteWebhook(ctx context.Context, id int64) error
	ListDeliveries(ctx context.Context, webhookID int64, limit int) ([]lifecycle.Delivery, error)
}

// Webhooks is the billing webhook use cases. A webhook's URL and signing secret are
// sealed at rest: they are opened here only.
type Webhooks struct {
	store WebhookStore
	box   Sealer
	clock clock.Clock
}

// NewWebhooks returns the webhook use cases.
func NewWebhooks(s WebhookStore, box Sealer, c clock.Clock) *Webhooks {
	if c == nil {
		c = clock.Real{}
	}
	return &Webhooks{store: s, box: box, clock: c}
}

// Create subscribes req's URL and returns the new webhook, opened, with its signing
// secret, which is shown this once. Returns a *lifecycle.ValidationError.
func (w *Webhooks) Create(ctx context.Context, req lifecycle.WebhookRequest) (lifecycle.Subscription, error) {
	if err := req.Validate(); err != nil {
		return lifecycle.Subscription{}, err
	}
	sec := "whsec_" + secret.Random(24)
	hook := lifecycle.Webhook{SealedURL: w.box.Seal([]byte(req.URL), secret.WebhookURL), SealedSecret: w.box.Seal([]byte(sec), secret.WebhookSecret), Events: req.Events, CreatedAt: w.clock.Now()}
	if err := w.store.AddWebhook(ctx, &hook); err != nil {
		return lifecycle.Subscription{}, err
	}
	return lifecycle.Subscription{ID: hook.ID, URL: req.URL, Secret: sec, Events: hook.Events, CreatedAt: hook.CreatedAt}, nil
}

// List returns every subscription with its URL opened (its secret is not).
func (w *Webhooks) List(ctx context.Context) ([]lifecycle.Subscription, error) {
	hooks, err := w.store.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]lifecycle.Subscription, len(hooks))
	for i, h := range hooks {
		if out[i], err = w.open(h, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Target returns a webhook opened, secret included, for its deliverer. Returns
// lifecycle.ErrNotFound.
func (w *Webhooks) Target(ctx context.Context, id int64) (lifecycle.Subscription, error) {
	h, err := w.store.FindWebhook(ctx, id)
	if err != nil {
		return lifecycle.Subscription{}, err
	}
	return w.open(h, true)
}

// open opens h's URL and, with withSecret, its secret.
func (w *Webhooks) open(h lifecycle.Webhook, withSecret bool) (lifecycle.Subscription, error) {
	out := lifecycle.Subscription{ID: h.ID, Events: h.Events, CreatedAt: h.CreatedAt}
	u, err := w.box.Open(h.SealedURL, secret.WebhookURL)
	if err != nil {
		return out, fmt.Errorf("webhook %d: %w", h.ID, err)
	}
	out.URL = string(u)
	if withSecret {
		sec, err := w.box.Open(h.SealedSecret, secret.WebhookSecret)
		if err != nil {
			return out, fmt.Errorf("webhook %d: %w", h.ID, err)
		}
		out.Secret = string(sec)
	}
	return out, nil
}

// Delete removes a subscription and its deliveries. Returns lifecycle.ErrNotFound.
func (w *Webhooks) Delete(ctx context.Context, id int64) error { return w.store.DeleteWebhook(ctx, id) }

// Deliveries returns the latest deliveries, newest first; webhookID 0 means all.
func (w *Webhooks) Deliveries(ctx context.Context, webhookID int64, limit int) ([]lifecycle.Delivery, error) {
	return w.store.ListDeliveries(ctx, webhookID, limit)
}
