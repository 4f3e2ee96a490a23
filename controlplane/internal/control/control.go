// Package control is the control plane's use cases, between the API and the store: it
// creates instances (with their secrets and one-time setup link, idempotently), records
// what billing asks (suspend, resume, destroy, retry), and renders an instance's spec
// for the reconciler.
package control

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

// ErrKeyReused: an Idempotency-Key came back with another body. It wraps ErrInvalid.
var ErrKeyReused = fmt.Errorf("%w: this Idempotency-Key was used with a different request body", lifecycle.ErrInvalid)

// Options configure the service.
type Options struct {
	Clock   clock.Clock
	Box     *secret.Box
	Plans   map[string]template.Plan
	Version string // replaces {version} in plan images
	// BaseDomain, Scheme and PublicPort make instance URLs: scheme://slug.base-domain[:port].
	BaseDomain string
	Scheme     string
	PublicPort string // "" for the scheme's default
	// Nudge wakes the reconciler after a change.
	Nudge func()
}

// Service is the control plane's use cases.
type Service struct {
	store *store.Store
	opts  Options
}

// New returns the service.
func New(s *store.Store, o Options) *Service {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Nudge == nil {
		o.Nudge = func() {}
	}
	if o.Scheme == "" {
		o.Scheme = "http"
	}
	return &Service{store: s, opts: o}
}

// URL is the public address of the instance with this slug.
func (s *Service) URL(slug string) string {
	host := slug + "." + s.opts.BaseDomain
	if s.opts.PublicPort != "" {
		host = net.JoinHostPort(host, s.opts.PublicPort)
	}
	return s.opts.Scheme + "://" + host
}

// Wire turns an instance into its API form.
func (s *Service) Wire(i lifecycle.Instance) client.Instance {
	return client.Instance{ID: i.ID, CustomerID: i.CustomerID, Slug: i.Slug, Plan: i.Plan, State: string(i.State),
		DesiredState: string(i.Desired), URL: s.URL(i.Slug), LastError: i.LastError, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt,
		SuspendedAt: i.SuspendedAt, PurgeAfter: i.PurgeAfter, DestroyedAt: i.DestroyedAt}
}

// instanceSecrets are generated per instance and sealed at rest.
type instanceSecrets struct {
	SecretKey  string `json:"secret_key"`
	SetupToken string `json:"setup_token"`
}

// newID returns a sortable id: creation time in milliseconds, then randomness.
func newID(now time.Time) string { return fmt.Sprintf("in%011x%s", now.UnixMilli(), secret.Random(4)) }

// Create stores a new instance and returns the response to give (status and JSON body,
// with the setup link). With an idempotency key, a repeated identical request gets the
// first response again, even when both race; a different body with the same key gets
// ErrKeyReused. Returns a *lifecycle.ValidationError or lifecycle.ErrConflict (slug
// taken) otherwise.
func (s *Service) Create(ctx context.Context, tokenID int64, key string, req lifecycle.CreateRequest, actor string) (int, []byte, error) {
	raw, _ := json.Marshal(req)
	sum := sha256.Sum256(raw)
	reqHash := hex.EncodeToString(sum[:])
	if key != "" {
		if status, body, err := s.replay(ctx, tokenID, key, reqHash); !errors.Is(err, lifecycle.ErrNotFound) {
			return status, body, err
		}
	}
	if err := req.Validate(s.planNames()); err != nil {
		return 0, nil, err
	}
	now := s.opts.Clock.Now()
	sec := instanceSecrets{SecretKey: secret.Random(32), SetupToken: secret.Random(24)}
	sealed, _ := json.Marshal(sec)
	inst := lifecycle.Instance{ID: newID(now), CustomerID: req.CustomerID, Slug: req.Slug, Plan: req.Plan, AdminEmail: req.AdminEmail,
		AdminName: req.AdminName, State: lifecycle.Provisioning, Desired: lifecycle.WantActive, NextAttempt: now, CreatedAt: now, UpdatedAt: now}
	out := s.Wire(inst)
	out.SetupURL = s.URL(inst.Slug) + "/setup?token=" + sec.SetupToken
	body, _ := json.Marshal(out)
	var idem *store.Idempotent
	if key != "" {
		idem = &store.Idempotent{TokenID: tokenID, Key: key, RequestHash: reqHash, Status: 202,
			Body: base64.StdEncoding.EncodeToString(s.opts.Box.Seal(body)), CreatedAt: now}
	}
	ev := lifecycle.Event{InstanceID: inst.ID, Type: lifecycle.EventCreated, At: now, Actor: actor, ToState: lifecycle.Provisioning}
	err := s.store.CreateInstance(ctx, inst, s.opts.Box.Seal(sealed), ev, idem)
	if errors.Is(err, store.ErrIdempotent) {
		return s.replay(ctx, tokenID, key, reqHash)
	}
	if err != nil {
		return 0, nil, err
	}
	s.opts.Nudge()
	return 202, body, nil
}

// replay returns the stored response for key; lifecycle.ErrNotFound if there is none.
func (s *Service) replay(ctx context.Context, tokenID int64, key, reqHash string) (int, []byte, error) {
	prev, err := s.store.FindIdempotent(ctx, tokenID, key)
	if err != nil {
		return 0, nil, err
	}
	if prev.RequestHash != reqHash {
		return 0, nil, ErrKeyReused
	}
	sealed, err := base64.StdEncoding.DecodeString(prev.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("decode stored response: %w", err)
	}
	body, err := s.opts.Box.Open(sealed)
	if err != nil {
		return 0, nil, fmt.Errorf("open stored response: %w", err)
	}
	return prev.Status, body, nil
}

func (s *Service) planNames() map[string]bool {
	out := map[string]bool{}
	for n := range s.opts.Plans {
		out[n] = true
	}
	return out
}

// Get returns one instance. Returns lifecycle.ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (lifecycle.Instance, error) {
	return s.store.FindInstance(ctx, id)
}

// List returns a page of instances.
func (s *Service) List(ctx context.Context, f store.InstanceFilter) ([]lifecycle.Instance, string, error) {
	return s.store.ListInstances(ctx, f)
}

// Events returns an instance's history. Returns lifecycle.ErrNotFound for an unknown id.
func (s *Service) Events(ctx context.Context, id string) ([]lifecycle.Event, error) {
	if _, err := s.store.FindInstance(ctx, id); err != nil {
		return nil, err
	}
	return s.store.ListEvents(ctx, id)
}

// Suspend asks for read-only mode. Asking again is a no-op. Returns lifecycle.ErrConflict
// for an instance being destroyed.
func (s *Service) Suspend(ctx context.Context, id, reason, actor string) (lifecycle.Instance, error) {
	return s.want(ctx, id, lifecycle.WantSuspended, reason, actor)
}

// Resume asks for the writable mode again, while the instance is not being destroyed.
func (s *Service) Resume(ctx context.Context, id, reason, actor string) (lifecycle.Instance, error) {
	return s.want(ctx, id, lifecycle.WantActive, reason, actor)
}

// Destroy asks for the instance to be removed now.
func (s *Service) Destroy(ctx context.Context, id, reason, actor string) (lifecycle.Instance, error) {
	return s.want(ctx, id, lifecycle.WantDestroyed, reason, actor)
}

func (s *Service) want(ctx context.Context, id string, d lifecycle.Desired, reason, actor string) (lifecycle.Instance, error) {
	inst, err := s.store.Change(ctx, id, func(i *lifecycle.Instance) (lifecycle.Event, error) {
		if i.Desired == d {
			return lifecycle.Event{}, nil // already asked: a no-op, not an error
		}
		if i.Desired == lifecycle.WantDestroyed {
			return lifecycle.Event{}, fmt.Errorf("%w: instance %s is %s", lifecycle.ErrConflict, i.ID, i.State)
		}
		if i.State == lifecycle.Failed && d != lifecycle.WantDestroyed {
			return lifecycle.Event{}, fmt.Errorf("%w: instance %s failed; retry or destroy it", lifecycle.ErrConflict, i.ID)
		}
		now := s.opts.Clock.Now()
		i.Desired, i.Attempts, i.NextAttempt, i.UpdatedAt = d, 0, now, now
		if d == lifecycle.WantSuspended {
			i.SuspendNote = reason
		}
		return lifecycle.Event{InstanceID: i.ID, Type: lifecycle.EventRequested, At: now, Actor: actor,
			Reason: fmt.Sprintf("desired state %s%s", d, suffix(reason)), FromState: i.State, ToState: i.State}, nil
	})
	if err == nil {
		s.opts.Nudge()
	}
	return inst, err
}

func suffix(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

// Retry sends a failed instance back to work. Returns lifecycle.ErrConflict unless it
// failed.
func (s *Service) Retry(ctx context.Context, id, actor string) (lifecycle.Instance, error) {
	inst, err := s.store.Change(ctx, id, func(i *lifecycle.Instance) (lifecycle.Event, error) {
		if i.State != lifecycle.Failed {
			return lifecycle.Event{}, fmt.Errorf("%w: instance %s is %s, not failed", lifecycle.ErrConflict, i.ID, i.State)
		}
		now := s.opts.Clock.Now()
		i.State, i.Attempts, i.NextAttempt, i.UpdatedAt = lifecycle.Provisioning, 0, now, now
		return lifecycle.Event{InstanceID: i.ID, Type: lifecycle.EventRetried, At: now, Actor: actor,
			FromState: lifecycle.Failed, ToState: lifecycle.Provisioning}, nil
	})
	if err == nil {
		s.opts.Nudge()
	}
	return inst, err
}

// Plans lists the plans by name.
func (s *Service) Plans() []client.Plan {
	var out []client.Plan
	for _, p := range s.opts.Plans {
		out = append(out, client.Plan{Name: p.Name, DisplayName: p.DisplayName, Database: string(p.Database.Kind),
			MemoryBytes: p.App.Resources.MemoryBytes, CPUs: math.Round(float64(p.App.Resources.MilliCPUs)) / 1000,
			AttachmentQuotaBytes: p.App.AttachmentQuotaBytes, ReadOnlyDays: p.Lifecycle.ReadOnlyDays})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ReadOnlyDays is how long a suspended instance of plan stays readable (30 by default).
func (s *Service) ReadOnlyDays(plan string) int {
	if p, ok := s.opts.Plans[plan]; ok && p.Lifecycle.ReadOnlyDays > 0 {
		return p.Lifecycle.ReadOnlyDays
	}
	return 30
}

// Spec renders what the runtime must make of inst in mode.
func (s *Service) Spec(ctx context.Context, inst lifecycle.Instance, mode provisioning.Mode) (provisioning.Spec, error) {
	plan, ok := s.opts.Plans[inst.Plan]
	if !ok {
		return provisioning.Spec{}, fmt.Errorf("%w: instance %s has plan %q, which is no longer loaded", provisioning.ErrInvalid, inst.ID, inst.Plan)
	}
	sealed, err := s.store.Secrets(ctx, inst.ID)
	if err != nil {
		return provisioning.Spec{}, err
	}
	raw, err := s.opts.Box.Open(sealed)
	if err != nil {
		return provisioning.Spec{}, fmt.Errorf("secrets of %s: %w", inst.ID, err)
	}
	var sec instanceSecrets
	if err := json.Unmarshal(raw, &sec); err != nil {
		return provisioning.Spec{}, fmt.Errorf("secrets of %s: %w", inst.ID, err)
	}
	var until time.Time
	if mode == provisioning.ModeReadOnly && inst.PurgeAfter != nil {
		until = *inst.PurgeAfter
	}
	return plan.Render(template.Instance{ID: inst.ID, Slug: inst.Slug, Mode: mode, ReadOnlyUntil: until, BaseURL: s.URL(inst.Slug),
		Secrets: map[string]string{"SPROUDCHAT_SECRET_KEY": sec.SecretKey, "SPROUDCHAT_SETUP_TOKEN": sec.SetupToken}},
		template.Options{Version: s.opts.Version})
}

// Payload renders the webhook body of an event: the event and the instance, without
// the admin's contact or any secret.
func (s *Service) Payload(ev lifecycle.Event, inst lifecycle.Instance) []byte {
	b, _ := json.Marshal(client.WebhookPayload{ID: ev.ID, Type: ev.Type, At: ev.At.Format(time.RFC3339Nano), Reason: ev.Reason, Instance: s.Wire(inst)})
	return b
}

// PublicPort extracts the port of an address for instance URLs: "" for 80 and 443.
func PublicPort(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "80" || port == "443" {
		return ""
	}
	if _, err := strconv.Atoi(port); err != nil {
		return ""
	}
	return port
}
