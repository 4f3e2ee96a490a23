// Package control is the control plane's use cases, between the API and the store: it
// creates instances (with their secrets and one-time setup link), records what billing
// asks (suspend, resume, destroy, retry), manages API tokens and webhooks, and renders
// an instance's spec for the reconciler. It owns every secret operation: sealing and
// opening instance secrets, webhook URLs and secrets and stored responses, and hashing
// tokens. It returns domain values; rendering them is the API's.
package control

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

// Store is what the instance use cases need of persistence.
type Store interface {
	SecretStore
	// CreateInstance writes inst, ev and idem in one transaction. Returns
	// lifecycle.ErrKeyUsed when idem's key was used before, lifecycle.ErrConflict when
	// the slug is taken.
	CreateInstance(ctx context.Context, inst lifecycle.Instance, sealedSecrets []byte, ev lifecycle.Event, idem *lifecycle.Idempotent) error
	// FindIdempotent returns lifecycle.ErrNotFound.
	FindIdempotent(ctx context.Context, tokenID int64, key string) (lifecycle.Idempotent, error)
	// FindInstance returns lifecycle.ErrNotFound.
	FindInstance(ctx context.Context, id string) (lifecycle.Instance, error)
	ListInstances(ctx context.Context, f lifecycle.InstanceFilter) ([]lifecycle.Instance, string, error)
	ListEvents(ctx context.Context, instanceID string) ([]lifecycle.Event, error)
	// Change returns lifecycle.ErrNotFound, or change's error.
	Change(ctx context.Context, id string, change func(*lifecycle.Instance) (lifecycle.Event, error)) (lifecycle.Instance, error)
}

// Nudger wakes the reconciler after a change (reconcile.Reconciler).
type Nudger interface{ Nudge() }

// BackupSource opens backups for instances made from one (backups.Service).
type BackupSource interface {
	// RestoreSecretKey returns the secret key recorded in backup id. Returns
	// lifecycle.ErrNotFound for a backup that is unknown or not completed.
	RestoreSecretKey(ctx context.Context, backupID string) (string, error)
}

// Options configure the service.
type Options struct {
	Clock clock.Clock
	Specs *Specs // required: plans, URLs, the sealer
	Nudge Nudger // nil: nobody to wake
	// Backups opens the backup a new instance is made from (restore_from); nil: backups
	// are off and restore_from is refused.
	Backups BackupSource
}

// Service is the instance use cases.
type Service struct {
	store Store
	specs *Specs
	opts  Options
}

type noNudge struct{}

func (noNudge) Nudge() {}

// New returns the service.
func New(s Store, o Options) *Service {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Nudge == nil {
		o.Nudge = noNudge{}
	}
	return &Service{store: s, specs: o.Specs, opts: o}
}

// URL is the public address of the instance with this slug.
func (s *Service) URL(slug string) string { return s.specs.URL(slug) }

// newID returns a sortable id: creation time in milliseconds, then randomness.
func newID(now time.Time) string { return fmt.Sprintf("in%011x%s", now.UnixMilli(), secret.Random(4)) }

// NewInstance checks req and makes the instance it asks for, with fresh secrets and its
// setup link, without storing anything: Create stores it. Returns a
// *lifecycle.ValidationError.
func (s *Service) NewInstance(req lifecycle.CreateRequest) (lifecycle.NewInstance, error) {
	if err := req.Validate(s.planNames()); err != nil {
		return lifecycle.NewInstance{}, err
	}
	now := s.opts.Clock.Now()
	sec := lifecycle.Secrets{SecretKey: secret.Random(32), SetupToken: secret.Random(24)}
	inst := lifecycle.Instance{ID: newID(now), CustomerID: req.CustomerID, Slug: req.Slug, Plan: req.Plan, AdminEmail: req.AdminEmail,
		AdminName: req.AdminName, State: lifecycle.Provisioning, Desired: lifecycle.WantActive, NextAttempt: now, CreatedAt: now, UpdatedAt: now,
		RestoreBackupID: req.RestoreFrom}
	n := lifecycle.NewInstance{Instance: inst, Secrets: sec, SetupURL: s.URL(inst.Slug) + "/setup?token=" + sec.SetupToken}
	if req.RestoreFrom != "" {
		n.SetupURL = "" // its users come with the backup: the setup link would only be refused
	}
	return n, nil
}

// Create stores n (from NewInstance) with its sealed secrets, its first event and
// that event's webhook deliveries, and, when idem is not nil, the response to give again
// for idem's key, sealed (it carries the setup link), all at once. Returns
// lifecycle.ErrKeyUsed when idem's key was used before (Replay has its response; the
// instance is not stored), lifecycle.ErrConflict when the slug is taken, a
// *lifecycle.ValidationError (field restore_from) when the instance is to be made from
// a backup that is unknown or not completed. An instance made from a backup gets the
// backup's secret key (what its data was sealed with); the reconciler restores it
// once it runs.
func (s *Service) Create(ctx context.Context, n lifecycle.NewInstance, actor string, idem *lifecycle.Idempotent) error {
	inst := n.Instance
	if inst.RestoreBackupID != "" {
		key, err := s.restoreKey(ctx, inst.RestoreBackupID)
		if err != nil {
			return err
		}
		n.Secrets.SecretKey = key
	}
	ev := lifecycle.Event{InstanceID: inst.ID, Type: lifecycle.EventCreated, At: inst.CreatedAt, Actor: actor, ToState: lifecycle.Provisioning}
	ev.Payload = s.specs.Payload(ev, inst)
	if idem != nil {
		sealed := *idem
		sealed.Body = s.specs.opts.Box.Seal(idem.Body, secret.IdempotentBody(idem.TokenID, idem.Key))
		idem = &sealed
	}
	if err := s.store.CreateInstance(ctx, inst, s.specs.sealSecrets(inst.ID, n.Secrets), ev, idem); err != nil {
		return err
	}
	s.opts.Nudge.Nudge()
	return nil
}

func (s *Service) restoreKey(ctx context.Context, backupID string) (string, error) {
	if s.opts.Backups == nil {
		return "", &lifecycle.ValidationError{Fields: map[string]string{"restore_from": "backups are not configured on this control plane"}}
	}
	key, err := s.opts.Backups.RestoreSecretKey(ctx, backupID)
	if errors.Is(err, lifecycle.ErrNotFound) {
		return "", &lifecycle.ValidationError{Fields: map[string]string{"restore_from": "is not a completed backup"}}
	}
	if err != nil {
		return "", fmt.Errorf("open backup %s: %w", backupID, err)
	}
	return key, nil
}

// Replay returns the response stored for a token's idempotency key, opened. Returns
// lifecycle.ErrNotFound if there is none.
func (s *Service) Replay(ctx context.Context, tokenID int64, key string) (lifecycle.Idempotent, error) {
	prev, err := s.store.FindIdempotent(ctx, tokenID, key)
	if err != nil {
		return lifecycle.Idempotent{}, err
	}
	if prev.Body, err = s.specs.opts.Box.Open(prev.Body, secret.IdempotentBody(tokenID, key)); err != nil {
		return lifecycle.Idempotent{}, fmt.Errorf("open stored response: %w", err)
	}
	return prev, nil
}

func (s *Service) planNames() map[string]bool {
	out := map[string]bool{}
	for n := range s.specs.opts.Plans {
		out[n] = true
	}
	return out
}

// Get returns one instance. Returns lifecycle.ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (lifecycle.Instance, error) {
	return s.store.FindInstance(ctx, id)
}

// List returns a page of instances and the cursor of the next, "" on the last.
func (s *Service) List(ctx context.Context, f lifecycle.InstanceFilter) ([]lifecycle.Instance, string, error) {
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
// for an instance being destroyed or failed, lifecycle.ErrNotFound for an unknown one.
func (s *Service) Suspend(ctx context.Context, id, reason, actor string) (lifecycle.Instance, error) {
	return s.want(ctx, id, lifecycle.WantSuspended, reason, actor)
}

// Resume asks for the writable mode again, while the instance is not being destroyed.
// Errors as Suspend.
func (s *Service) Resume(ctx context.Context, id, reason, actor string) (lifecycle.Instance, error) {
	return s.want(ctx, id, lifecycle.WantActive, reason, actor)
}

// Destroy asks for the instance to be removed now. Returns lifecycle.ErrNotFound.
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
		s.opts.Nudge.Nudge()
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
// failed, lifecycle.ErrNotFound for an unknown one.
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
		s.opts.Nudge.Nudge()
	}
	return inst, err
}

// Plans lists the plans by name.
func (s *Service) Plans() []template.Plan {
	out := make([]template.Plan, 0, len(s.specs.opts.Plans))
	for _, p := range s.specs.opts.Plans {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
