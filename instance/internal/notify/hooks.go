package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/i18n"
	"github.com/sproudstack/sproudchat/instance/internal/worker"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Events a target can be told of.
const (
	EventChatNew          = "chat.new"
	EventChatUnanswered   = "chat.unanswered"
	EventTicketNew        = "ticket.new"
	EventTicketReply      = "ticket.reply"
	EventBookingNew       = "booking.new"
	EventBookingCancelled = "booking.cancelled"
	EventTest             = "test" // "send test" in the UI; only to the target tested
)

// Events lists what an admin can subscribe a target to.
var Events = []string{EventChatNew, EventChatUnanswered, EventTicketNew, EventTicketReply, EventBookingNew, EventBookingCancelled}

// Event is something that happened, as a target is told of it. Text may hold what a
// visitor wrote: each sender escapes it for its service.
type Event struct {
	Type  string         `json:"type"`
	At    time.Time      `json:"created_at"`
	Title string         `json:"title"`
	Text  string         `json:"text"`
	URL   string         `json:"url"`
	Data  map[string]any `json:"data,omitempty"`
}

// Target kinds.
const (
	KindSlack   = "slack"
	KindDiscord = "discord"
	KindBark    = "bark"
	KindWebhook = "webhook"
	KindEmail   = "email"
)

// Kinds lists the target kinds.
var Kinds = []string{KindSlack, KindDiscord, KindBark, KindWebhook, KindEmail}

// DefaultBarkServer is the public Bark server; a self-hosted one may be named instead.
const DefaultBarkServer = "https://api.day.app"

// TargetConfig is what reaches a target. It is sealed at rest and never shown again
// in full.
type TargetConfig struct {
	URL       string  `json:"url,omitempty"`        // slack, discord, webhook
	Server    string  `json:"server,omitempty"`     // bark
	DeviceKey string  `json:"device_key,omitempty"` // bark
	Secret    string  `json:"secret,omitempty"`     // webhook: signs each delivery
	UserIDs   []int64 `json:"user_ids,omitempty"`   // email
}

// Target is a place notifications go.
type Target struct {
	ID        int64
	Kind      string
	Name      string
	Events    []string
	Config    TargetConfig // filled by the service; the store keeps only Sealed
	Sealed    []byte       // Config, sealed; only the service and the store touch it
	Hint      string       // what the UI may show of Config
	Active    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Delivery is one event for one target, in the durable queue.
type Delivery struct {
	ID          int64
	DeliveryID  string // the same across retries
	TargetID    int64
	EventType   string
	Payload     string // the event, as JSON
	Status      string // pending, sent, failed (the Mail* states)
	Attempts    int
	NextAttempt time.Time
	CreatedAt   time.Time
	SentAt      *time.Time
	// Count is how many events the delivery stands for: more than one when events of a
	// coalesced type came faster than CoalesceWindow.
	Count int
}

// Attempt is one try of a delivery, for the delivery log.
type Attempt struct {
	ID         int64
	DeliveryID int64
	TargetID   int64
	At         time.Time
	StatusCode int
	Error      string
}

// HookStore keeps targets, the delivery queue and the log.
type HookStore interface {
	CreateTarget(ctx context.Context, t *Target) error
	// UpdateTarget returns instance.ErrNotFound.
	UpdateTarget(ctx context.Context, t Target) error
	// DeleteTarget returns instance.ErrNotFound.
	DeleteTarget(ctx context.Context, id int64) error
	// FindTarget returns instance.ErrNotFound.
	FindTarget(ctx context.Context, id int64) (Target, error)
	ListTargets(ctx context.Context) ([]Target, error)
	// EnqueueDeliveries stores ds and sets their IDs.
	EnqueueDeliveries(ctx context.Context, ds []Delivery) error
	// CoalesceDelivery stores d, due now, unless its target's latest delivery of d's
	// type was created less than window before d.CreatedAt: then d is counted into the
	// delivery of that type still waiting to be sent, or a new one due window after
	// the latest. d becomes the delivery it went into, with its count.
	CoalesceDelivery(ctx context.Context, d *Delivery, window time.Duration) error
	// ClaimDeliveries takes up to limit due deliveries, holding each for hold.
	ClaimDeliveries(ctx context.Context, now time.Time, hold time.Duration, limit int) ([]Delivery, error)
	// ReleaseDeliveries gives back claimed deliveries that were not attempted: each is
	// due again at its NextAttempt, as before the claim.
	ReleaseDeliveries(ctx context.Context, ds []Delivery) error
	// SaveAttempt records an attempt and the delivery's new state together.
	SaveAttempt(ctx context.Context, d Delivery, a Attempt) error
	Attempts(ctx context.Context, targetID int64, limit int) ([]Attempt, error)
	// Prune deletes attempts, and finished deliveries, from before t.
	Prune(ctx context.Context, before time.Time) (int64, error)
}

// LogRetention is how long the delivery log is kept.
const LogRetention = 90 * 24 * time.Hour

// MaxHookAttempts bounds retries: with the backoff below, about a day.
const MaxHookAttempts = 15

// hookBackoff after n failures: 10 s doubling, at most 2 hours.
func hookBackoff(n int) time.Duration {
	return min(10*time.Second<<min(max(n-1, 0), 12), 2*time.Hour)
}

// HookOptions configure the notification service.
type HookOptions struct {
	Clock   clock.Clock
	Logger  *slog.Logger
	BaseURL string // links in notifications point here
	// AllowLoopback lets targets be plain http on this machine: for tests only. It
	// never opens private or link-local addresses.
	AllowLoopback bool
	// Lang is the language of the notifications' text ("" is English).
	Lang string
}

// Hooks sends notifications to the admins' targets.
type Hooks struct {
	store  HookStore
	seal   *Sealer
	mailer *Mailer
	users  Users
	client *http.Client
	o      HookOptions
}

// NewHooks returns the notification service. Mail goes through mailer to users.
func NewHooks(st HookStore, seal *Sealer, mailer *Mailer, users Users, o HookOptions) *Hooks {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return &Hooks{store: st, seal: seal, mailer: mailer, users: users, client: guardedClient(o.AllowLoopback), o: o}
}

// BaseURL is where links in notifications point.
func (h *Hooks) BaseURL() string { return h.o.BaseURL }

// TargetInput creates or changes a target. A nil field stays as it is; config fields
// left empty on a change keep their stored value (they are never shown, so never sent
// back).
type TargetInput struct {
	Kind      string   `json:"kind"`
	Name      *string  `json:"name"`
	Events    []string `json:"events"`
	Active    *bool    `json:"active"`
	URL       string   `json:"url"`
	Server    string   `json:"server"`
	DeviceKey string   `json:"device_key"`
	Secret    string   `json:"secret"`
	UserIDs   []int64  `json:"user_ids"`
}

// CreateTarget adds a target. A webhook without a secret gets a new one, returned
// here once and never again. Returns an Invalid *instance.Error.
func (h *Hooks) CreateTarget(ctx context.Context, in TargetInput) (Target, string, error) {
	t := Target{Kind: in.Kind, Active: true, Events: []string{}}
	if in.Kind == KindWebhook && in.Secret == "" {
		in.Secret = "whsec_" + randomHex(24)
	}
	if err := h.apply(&t, in); err != nil {
		return Target{}, "", err
	}
	now := h.o.Clock.Now()
	t.CreatedAt, t.UpdatedAt = now, now
	if err := h.store.CreateTarget(ctx, &t); err != nil {
		return Target{}, "", fmt.Errorf("create notification target: %w", err)
	}
	return t, in.Secret, nil
}

// UpdateTarget changes a target. Returns instance.ErrNotFound or a
// instance.Error with Fields.
func (h *Hooks) UpdateTarget(ctx context.Context, id int64, in TargetInput) (Target, error) {
	t, err := h.Target(ctx, id)
	if err != nil {
		return Target{}, err
	}
	if in.Kind != "" && in.Kind != t.Kind {
		return Target{}, instance.InvalidField("kind", "target_kind_fixed", "cannot change; add a new target instead")
	}
	in.Kind = t.Kind
	if err := h.apply(&t, in); err != nil {
		return Target{}, err
	}
	t.UpdatedAt = h.o.Clock.Now()
	if err := h.store.UpdateTarget(ctx, t); err != nil {
		return Target{}, fmt.Errorf("update notification target %d: %w", id, err)
	}
	return t, nil
}

// apply checks in and writes it into t, sealing the config.
func (h *Hooks) apply(t *Target, in TargetInput) error {
	p := instance.Fields{}
	if !slices.Contains(Kinds, in.Kind) {
		p.Add("kind", "one_of_list", "must be one of %s", strings.Join(Kinds, ", "))
		return p.Err()
	}
	if in.Name != nil {
		t.Name = strings.TrimSpace(*in.Name)
	}
	if t.Name == "" {
		t.Name = in.Kind
	}
	if utf8.RuneCountInString(t.Name) > 100 {
		p.Add("name", "too_long", "is longer than %d characters", 100)
	}
	if in.Events != nil {
		t.Events = []string{}
		for _, e := range in.Events {
			if !slices.Contains(Events, e) {
				p.Add("events", "not_one_of", "%q is not one of %s", e, strings.Join(Events, ", "))
			} else if !slices.Contains(t.Events, e) {
				t.Events = append(t.Events, e)
			}
		}
	}
	if in.Active != nil {
		t.Active = *in.Active
	}
	c := &t.Config
	set := func(to *string, v string) {
		if v = strings.TrimSpace(v); v != "" {
			*to = v
		}
	}
	switch in.Kind {
	case KindSlack, KindDiscord, KindWebhook:
		set(&c.URL, in.URL)
		checkTargetURL(p, "url", c.URL, h.o.AllowLoopback)
		if in.Kind == KindWebhook {
			set(&c.Secret, in.Secret)
			if len(c.Secret) < 16 {
				p.Add("secret", "min_length", "must be at least %d characters", 16)
			}
		}
	case KindBark:
		set(&c.Server, in.Server)
		if c.Server == "" {
			c.Server = DefaultBarkServer
		}
		c.Server = strings.TrimRight(c.Server, "/")
		checkTargetURL(p, "server", c.Server, h.o.AllowLoopback)
		set(&c.DeviceKey, in.DeviceKey)
		if c.DeviceKey == "" || len(c.DeviceKey) > 200 || strings.ContainsAny(c.DeviceKey, "/?#% ") {
			p.Add("device_key", "bark_key", "is required: the key the Bark app shows")
		}
	case KindEmail:
		if in.UserIDs != nil {
			c.UserIDs = slices.Compact(slices.Sorted(slices.Values(in.UserIDs)))
		}
		if len(c.UserIDs) == 0 {
			p.Add("user_ids", "no_users", "name at least one user")
		}
	}
	if err := p.Err(); err != nil {
		return err
	}
	plain, err := json.Marshal(c)
	if err != nil {
		return err
	}
	t.Sealed = h.seal.Seal(plain, TargetPlace)
	t.Hint = hint(t.Kind, *c)
	return nil
}

// hint is what the UI shows of a config: the host and the last characters of a key,
// enough to tell targets apart, too little to use one.
func hint(kind string, c TargetConfig) string {
	tail := func(s string) string {
		if len(s) <= 4 {
			return "…"
		}
		return "…" + s[len(s)-4:]
	}
	switch kind {
	case KindBark:
		u, _ := url.Parse(c.Server)
		return u.Host + " " + tail(c.DeviceKey)
	case KindEmail:
		return fmt.Sprintf("%d users", len(c.UserIDs))
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return ""
	}
	return u.Host + " " + tail(u.Path)
}

// Target returns a target with its config opened. Returns instance.ErrNotFound.
func (h *Hooks) Target(ctx context.Context, id int64) (Target, error) {
	t, err := h.store.FindTarget(ctx, id)
	if err != nil {
		return Target{}, err
	}
	return t, h.open(&t)
}

func (h *Hooks) open(t *Target) error {
	plain, err := h.seal.Open(t.Sealed, TargetPlace)
	if err != nil {
		return fmt.Errorf("open notification target %d: %w", t.ID, err)
	}
	return json.Unmarshal(plain, &t.Config)
}

// Targets lists every target, configs sealed.
func (h *Hooks) Targets(ctx context.Context) ([]Target, error) { return h.store.ListTargets(ctx) }

// DeleteTarget removes a target, its queue and its log. Returns instance.ErrNotFound.
func (h *Hooks) DeleteTarget(ctx context.Context, id int64) error {
	return h.store.DeleteTarget(ctx, id)
}

// Log returns a target's latest delivery attempts, newest first.
func (h *Hooks) Log(ctx context.Context, targetID int64, limit int) ([]Attempt, error) {
	return h.store.Attempts(ctx, targetID, limit)
}

// Publish queues ev for every active target subscribed to it. Nothing is sent here:
// the worker sends, and retries, from the queue.
func (h *Hooks) Publish(ctx context.Context, ev Event) error {
	targets, err := h.store.ListTargets(ctx)
	if err != nil {
		return fmt.Errorf("publish %s: %w", ev.Type, err)
	}
	var ds []Delivery
	for _, t := range targets {
		if !t.Active || !slices.Contains(t.Events, ev.Type) {
			continue
		}
		d := h.delivery(t.ID, ev)
		if slices.Contains(coalesced, ev.Type) {
			if err := h.store.CoalesceDelivery(ctx, &d, CoalesceWindow); err != nil {
				return fmt.Errorf("publish %s: %w", ev.Type, err)
			}
			continue
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return nil
	}
	return h.store.EnqueueDeliveries(ctx, ds)
}

func (h *Hooks) delivery(targetID int64, ev Event) Delivery {
	now := h.o.Clock.Now()
	if ev.At.IsZero() {
		ev.At = now
	}
	payload, _ := json.Marshal(ev)
	return Delivery{DeliveryID: "dlv_" + randomHex(16), TargetID: targetID, EventType: ev.Type, Payload: string(payload), Status: MailPending,
		NextAttempt: now, CreatedAt: now, Count: 1}
}

// Test sends a test notification to one target now and returns the attempt. A failed
// test is not retried.
func (h *Hooks) Test(ctx context.Context, id int64) (Attempt, error) {
	t, err := h.Target(ctx, id)
	if err != nil {
		return Attempt{}, err
	}
	d := h.delivery(id, Event{Type: EventTest, Title: h.translator(ctx, nil).T("event.test_title"), Text: h.translator(ctx, nil).T("event.test_text", "Name", t.Name),
		URL: h.o.BaseURL + "/settings/notifications"})
	d.NextAttempt = d.NextAttempt.Add(time.Hour) // sent right here, never by the worker
	ds := []Delivery{d}
	if err := h.store.EnqueueDeliveries(ctx, ds); err != nil {
		return Attempt{}, err
	}
	return h.attempt(ctx, t, ds[0], true), nil
}

// Deliver sends what is due now. Returns how many deliveries it tried.
func (h *Hooks) Deliver(ctx context.Context) (int, error) { return h.deliver(ctx, nil) }

// deliver sends what is due now under ctx, taking no new delivery once stop is closed:
// the one being made is finished and recorded, the others claimed are given back.
func (h *Hooks) deliver(ctx context.Context, stop <-chan struct{}) (int, error) {
	due, err := h.store.ClaimDeliveries(ctx, h.o.Clock.Now(), 5*time.Minute, 50)
	if err != nil {
		return 0, err
	}
	targets := map[int64]Target{}
	for i, d := range due {
		if worker.Stopped(stop) {
			if err := h.store.ReleaseDeliveries(ctx, due[i:]); err != nil {
				return i, fmt.Errorf("release notifications: %w", err)
			}
			return i, nil
		}
		t, ok := targets[d.TargetID]
		if !ok {
			if t, err = h.Target(ctx, d.TargetID); err != nil {
				h.o.Logger.ErrorContext(ctx, "notification target", "target_id", d.TargetID, "error", err.Error())
				continue
			}
			targets[d.TargetID] = t
		}
		h.attempt(ctx, t, d, d.EventType == EventTest)
	}
	return len(due), nil
}

// attempt sends one delivery and records the outcome. once: no retry (a test).
func (h *Hooks) attempt(ctx context.Context, t Target, d Delivery, once bool) Attempt {
	res := h.send(ctx, t, d, d.event(h.translator(ctx, nil)))
	now := h.o.Clock.Now()
	d.Attempts++
	a := Attempt{DeliveryID: d.ID, TargetID: t.ID, At: now, StatusCode: res.status}
	switch {
	case res.err == nil:
		d.Status, d.SentAt = MailSent, &now
	case once || res.permanent || d.Attempts >= MaxHookAttempts:
		d.Status = MailFailed
	case res.retryAfter > 0:
		d.NextAttempt = now.Add(min(res.retryAfter, time.Hour))
	default:
		d.NextAttempt = now.Add(hookBackoff(d.Attempts))
	}
	if res.err != nil {
		a.Error = res.err.Error()
		h.o.Logger.WarnContext(ctx, "notification not delivered", "target_id", t.ID, "kind", t.Kind, "delivery_id", d.DeliveryID,
			"attempt", d.Attempts, "status", res.status, "error", a.Error)
	}
	if err := h.store.SaveAttempt(ctx, d, a); err != nil {
		h.o.Logger.ErrorContext(ctx, "record notification attempt", "delivery_id", d.DeliveryID, "error", err.Error())
	}
	return a
}

// Run delivers every o.Every, and prunes the log daily, until ctx ends; then it returns
// once the delivery being made is made and recorded (see worker.Loop), its idle
// connections closed.
func (h *Hooks) Run(ctx context.Context, o worker.Options) {
	defer h.client.CloseIdleConnections()
	var pruned time.Time
	worker.Loop(ctx, o, func(work context.Context) {
		if _, err := h.deliver(work, ctx.Done()); err != nil && work.Err() == nil {
			h.o.Logger.ErrorContext(work, "deliver notifications", "error", err.Error())
		}
		if now := h.o.Clock.Now(); now.Sub(pruned) > 24*time.Hour && ctx.Err() == nil {
			if _, err := h.Prune(work); err != nil && work.Err() == nil {
				h.o.Logger.ErrorContext(work, "prune notification log", "error", err.Error())
			}
			pruned = now
		}
	})
}

// Prune deletes the delivery log older than LogRetention.
func (h *Hooks) Prune(ctx context.Context) (int64, error) {
	return h.store.Prune(ctx, h.o.Clock.Now().Add(-LogRetention))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// errBlocked: the target's address is not one notifications may go to.
var errBlocked = errors.New("address not allowed: private, loopback and link-local networks are refused")

// translator returns the notifications' texts, with times in the zone loc reports.
func (h *Hooks) translator(ctx context.Context, loc func(context.Context) (*time.Location, error)) i18n.Translator {
	return translator(ctx, loc, h.o.Lang)
}
