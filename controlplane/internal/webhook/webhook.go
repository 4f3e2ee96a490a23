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

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/wire"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Store is what the deliverer needs of persistence.
type Store interface {
	// ClaimDeliveries takes up to limit due pending deliveries and holds them for hold.
	ClaimDeliveries(ctx context.Context, now time.Time, hold time.Duration, limit int) ([]lifecycle.Delivery, error)
	SaveDelivery(ctx context.Context, d lifecycle.Delivery) error
}

// Targets opens a webhook's URL and secret (the control service: it owns every secret).
type Targets interface {
	// Target returns lifecycle.ErrNotFound for a webhook deleted meanwhile.
	Target(ctx context.Context, id int64) (lifecycle.Subscription, error)
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
	store   Store
	targets Targets
	clock   clock.Clock
	http    *http.Client
	log     *slog.Logger
}

// New returns a deliverer.
func New(s Store, targets Targets, c clock.Clock, log *slog.Logger) *Deliverer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{store: s, targets: targets, clock: c, log: log,
		// Its own pool, closed when Run returns: no connection outlives the deliverer.
		http: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Run delivers every second until ctx ends. An attempt under way when ctx ends is cut
// short and not counted: its delivery is due again at once, for the next start.
func (d *Deliverer) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	defer d.http.CloseIdleConnections()
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

func (d *Deliverer) attempt(ctx context.Context, del lifecycle.Delivery) {
	prev := del
	del.Attempts++
	code, err := d.send(ctx, del)
	now := d.clock.Now()
	del.ResponseCode = code
	switch {
	case ctx.Err() != nil:
		// Shutting down: the subscriber is not to blame. The database is still open
		// (serve closes it after the workers), so the delivery is handed back.
		del = prev
		del.NextAttempt = now
		ctx = context.WithoutCancel(ctx)
	case err == nil:
		del.Status, del.DeliveredAt, del.LastError = lifecycle.DeliveryDelivered, &now, ""
	case del.Attempts >= MaxAttempts:
		del.Status, del.LastError = lifecycle.DeliveryFailed, err.Error()
	default:
		del.LastError, del.NextAttempt = err.Error(), now.Add(Backoff(del.Attempts))
	}
	if serr := d.store.SaveDelivery(ctx, del); serr != nil {
		d.log.ErrorContext(ctx, "save delivery", "delivery_id", del.ID, "error", serr.Error())
	}
}

func (d *Deliverer) send(ctx context.Context, del lifecycle.Delivery) (int, error) {
	hook, err := d.targets.Target(ctx, del.WebhookID)
	if err != nil {
		return 0, fmt.Errorf("webhook %d: %w", del.WebhookID, err)
	}
	body, err := wire.WithEventID(del.Payload, del.EventID)
	if err != nil {
		return 0, fmt.Errorf("payload of delivery %d: %w", del.ID, err)
	}
	var head struct{ Type string }
	json.Unmarshal(body, &head)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sproudctl-webhooks/1")
	req.Header.Set("Sproud-Delivery", strconv.FormatInt(del.ID, 10))
	req.Header.Set("Sproud-Event", head.Type)
	req.Header.Set("Sproud-Signature", Sign(hook.Secret, d.clock.Now().Unix(), body))
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
