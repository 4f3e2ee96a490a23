// Package webhook delivers instance events to billing's subscriptions: JSON bodies signed
// `Sproud-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, with the
// delivery id in `Sproud-Delivery`. Deliveries come from an outbox written with the
// event, and are retried with backoff until they succeed or a limit is reached.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Store is what the deliverer needs of persistence.
type Store interface {
	ClaimDeliveries(ctx context.Context, now time.Time, hold time.Duration, limit int) ([]store.Delivery, error)
	SaveDelivery(ctx context.Context, d store.Delivery) error
	FindWebhook(ctx context.Context, id int64) (store.Webhook, error)
}

// MaxAttempts before a delivery is marked failed.
const MaxAttempts = 10

// Sign returns the Sproud-Signature value for body at time t.
func Sign(secret string, t int64, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(h, "%d.", t)
	h.Write(body)
	return fmt.Sprintf("t=%d,v1=%s", t, hex.EncodeToString(h.Sum(nil)))
}

// Backoff after n failed attempts: 10 s doubling, at most an hour.
func Backoff(n int) time.Duration {
	return min(10*time.Second<<min(max(n-1, 0), 10), time.Hour)
}

// Deliverer sends due deliveries.
type Deliverer struct {
	store Store
	box   *secret.Box
	clock clock.Clock
	http  *http.Client
	log   *slog.Logger
}

// New returns a deliverer.
func New(s Store, box *secret.Box, c clock.Clock, log *slog.Logger) *Deliverer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{store: s, box: box, clock: c, log: log,
		http: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Run delivers every second until ctx ends.
func (d *Deliverer) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if _, err := d.Deliver(ctx); err != nil && ctx.Err() == nil {
			d.log.ErrorContext(ctx, "deliver webhooks", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Deliver sends what is due now. Returns how many attempts it made.
func (d *Deliverer) Deliver(ctx context.Context) (int, error) {
	due, err := d.store.ClaimDeliveries(ctx, d.clock.Now(), time.Minute, 50)
	if err != nil {
		return 0, err
	}
	for _, del := range due {
		d.attempt(ctx, del)
	}
	return len(due), nil
}

func (d *Deliverer) attempt(ctx context.Context, del store.Delivery) {
	del.Attempts++
	code, err := d.send(ctx, del)
	now := d.clock.Now()
	del.ResponseCode = code
	switch {
	case err == nil:
		del.Status, del.DeliveredAt, del.LastError = store.DeliveryDelivered, &now, ""
	case del.Attempts >= MaxAttempts:
		del.Status, del.LastError = store.DeliveryFailed, err.Error()
	default:
		del.LastError, del.NextAttempt = err.Error(), now.Add(Backoff(del.Attempts))
	}
	if serr := d.store.SaveDelivery(ctx, del); serr != nil {
		d.log.ErrorContext(ctx, "save delivery", "delivery_id", del.ID, "error", serr.Error())
	}
}

func (d *Deliverer) send(ctx context.Context, del store.Delivery) (int, error) {
	hook, err := d.store.FindWebhook(ctx, del.WebhookID)
	if err != nil {
		return 0, fmt.Errorf("webhook %d: %w", del.WebhookID, err)
	}
	url, err := d.box.Open(hook.URL)
	if err != nil {
		return 0, err
	}
	sec, err := d.box.Open(hook.Secret)
	if err != nil {
		return 0, err
	}
	body := []byte(del.Payload)
	var head struct{ Type string }
	json.Unmarshal(body, &head)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(url), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sproudctl-webhooks/1")
	req.Header.Set("Sproud-Delivery", strconv.FormatInt(del.ID, 10))
	req.Header.Set("Sproud-Event", head.Type)
	req.Header.Set("Sproud-Signature", Sign(string(sec), d.clock.Now().Unix(), body))
	res, err := d.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post: %w", err) // the URL is secret: not in the message
	}
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("subscriber answered %d", res.StatusCode)
	}
	return res.StatusCode, nil
}
