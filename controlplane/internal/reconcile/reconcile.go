// Package reconcile moves every instance's state toward its desired state. Workers claim
// one instance at a time through a lease stored in its row, so two control-plane
// processes on one database never act on one instance at once; every runtime call is
// idempotent, so whatever a crash interrupts, the next claim repairs.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lease"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
)

// Store is what the reconciler needs of persistence.
type Store interface {
	Claim(ctx context.Context, owner string, now time.Time, ttl time.Duration) (lifecycle.Instance, bool, error)
	RenewLease(ctx context.Context, id, owner string, until time.Time) error
	Release(ctx context.Context, id, owner string) error
	Transition(ctx context.Context, inst lifecycle.Instance, owner string, ev lifecycle.Event) error
	Tombstone(ctx context.Context, id string) error
	NextDue(ctx context.Context) (time.Time, bool, error)
}

// Specs renders an instance's spec, and the webhook payloads of its events.
type Specs interface {
	Spec(ctx context.Context, inst lifecycle.Instance, mode provisioning.Mode) (provisioning.Spec, error)
	ReadOnlyDays(plan string) int
	Payload(ev lifecycle.Event, inst lifecycle.Instance) []byte
}

// Restorer replaces an instance's data with a backup's (backups.Service).
type Restorer interface {
	// RestoreData restores backup inst.RestoreBackupID into inst and starts it from
	// spec. An error wrapping lifecycle.ErrRestoreFailed: the previous data is back and
	// running (the status is valid); any other error: run it again.
	RestoreData(ctx context.Context, inst lifecycle.Instance, spec provisioning.Spec) (provisioning.Status, error)
}

// Options configure the reconciler.
type Options struct {
	// Restorer restores backups (state restoring); nil: restores fail.
	Restorer    Restorer
	Owner       string // this worker's name in leases: unique per process
	Clock       clock.Clock
	LeaseTTL    time.Duration // default 30 s; renewed at a third of it while working
	Poll        time.Duration // longest sleep between passes (default 2 s)
	MaxAttempts int           // failures before "failed" (default 5)
	Workers     int           // concurrent instances (default 4)
	// OnChange is told of every transition (the edge router refreshes, metrics count).
	OnChange func(inst lifecycle.Instance, from lifecycle.State, took time.Duration)
	// OnError is told of every failed attempt.
	OnError func(inst lifecycle.Instance, err error)
	Logger  *slog.Logger
}

// Reconciler is the loop.
type Reconciler struct {
	store   Store
	runtime provisioning.Runtime
	specs   Specs
	opts    Options
	log     *slog.Logger
	nudge   chan struct{}
}

// New returns a reconciler.
func New(s Store, rt provisioning.Runtime, specs Specs, o Options) *Reconciler {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.Poll == 0 {
		o.Poll = 2 * time.Second
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 5
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
	if o.OnChange == nil {
		o.OnChange = func(lifecycle.Instance, lifecycle.State, time.Duration) {}
	}
	if o.OnError == nil {
		o.OnError = func(lifecycle.Instance, error) {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{store: s, runtime: rt, specs: specs, opts: o, log: o.Logger, nudge: make(chan struct{}, 1)}
}

// Nudge wakes the workers now instead of at the next poll.
func (r *Reconciler) Nudge() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}

// Run works until ctx ends. On start it picks up every unfinished transition.
func (r *Reconciler) Run(ctx context.Context) {
	wake := make(chan struct{}, r.opts.Workers)
	done := make(chan struct{})
	for w := 0; w < r.opts.Workers; w++ {
		go func() {
			for {
				for {
					worked, err := r.Step(ctx)
					if err != nil && ctx.Err() == nil {
						r.log.ErrorContext(ctx, "reconcile step", "error", err.Error())
					}
					if !worked {
						break
					}
				}
				select {
				case <-ctx.Done():
					done <- struct{}{}
					return
				case <-wake:
				}
			}
		}()
	}
	for {
		sleep := r.opts.Poll
		if due, ok, err := r.store.NextDue(ctx); err == nil && ok {
			if d := due.Sub(r.opts.Clock.Now()); d < sleep {
				sleep = max(d, 10*time.Millisecond)
			}
		}
		select {
		case <-ctx.Done():
			for w := 0; w < r.opts.Workers; w++ {
				<-done
			}
			return
		case <-r.nudge:
		case <-time.After(sleep):
		}
		for w := 0; w < r.opts.Workers; w++ {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}
}

// Step claims one due instance and works it. Returns false when nothing was due.
func (r *Reconciler) Step(ctx context.Context) (bool, error) {
	inst, ok, err := r.store.Claim(ctx, r.opts.Owner, r.opts.Clock.Now(), r.opts.LeaseTTL)
	if err != nil || !ok {
		return false, err
	}
	wctx, cancel := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() { r.renew(wctx, cancel, inst.ID); close(renewed) }()
	defer func() { cancel(); <-renewed }()
	err = r.work(wctx, inst)
	if errors.Is(err, lifecycle.ErrLeaseLost) {
		r.log.WarnContext(ctx, "lease lost; another worker has the instance", "instance_id", inst.ID)
		return true, nil
	}
	if rerr := r.store.Release(context.WithoutCancel(ctx), inst.ID, r.opts.Owner); rerr != nil && err == nil {
		err = rerr
	}
	return true, err
}

// renew keeps the lease while the work goes on and cancels the work if it is lost.
func (r *Reconciler) renew(ctx context.Context, cancel context.CancelFunc, id string) {
	lease.Keep(ctx, cancel, r.opts.LeaseTTL, func(ctx context.Context) error {
		return r.store.RenewLease(ctx, id, r.opts.Owner, r.opts.Clock.Now().Add(r.opts.LeaseTTL))
	}, func(err error) { r.log.WarnContext(ctx, "renew lease", "instance_id", id, "error", err.Error()) })
}

// record writes inst and ev, fenced by the lease. An event's webhook payload is made
// here, before the write, so the store queues its deliveries in the same transaction.
func (r *Reconciler) record(ctx context.Context, inst lifecycle.Instance, ev lifecycle.Event) error {
	if ev.Type != "" {
		ev.Payload = r.specs.Payload(ev, inst)
	}
	return r.store.Transition(ctx, inst, r.opts.Owner, ev)
}

// work takes one step toward the desired state.
func (r *Reconciler) work(ctx context.Context, inst lifecycle.Instance) error {
	switch {
	case inst.Desired == lifecycle.WantDestroyed:
		return r.destroy(ctx, inst)
	case inst.State == lifecycle.Restoring:
		return r.restore(ctx, inst)
	}
	switch inst.Desired {
	case lifecycle.WantDestroyed:
		return r.destroy(ctx, inst)
	case lifecycle.WantSuspended:
		return r.apply(ctx, inst, provisioning.ModeReadOnly, lifecycle.Suspending)
	default:
		return r.apply(ctx, inst, provisioning.ModeActive, lifecycle.Resuming)
	}
}

// apply converges the instance to mode. via is the state shown meanwhile when the
// instance already ran (suspending, resuming); a new one stays "provisioning".
func (r *Reconciler) apply(ctx context.Context, inst lifecycle.Instance, mode provisioning.Mode, via lifecycle.State) error {
	start := r.opts.Clock.Now()
	from := inst.State
	if from == lifecycle.Active || from == lifecycle.Suspended {
		inst.State, inst.UpdatedAt = via, start
		if err := r.record(ctx, inst, lifecycle.Event{}); err != nil {
			return err
		}
	}
	if mode == provisioning.ModeReadOnly && inst.SuspendedAt == nil {
		purge := start.AddDate(0, 0, r.specs.ReadOnlyDays(inst.Plan))
		inst.SuspendedAt, inst.PurgeAfter = &start, &purge
	}
	spec, err := r.specs.Spec(ctx, inst, mode)
	if err != nil {
		return r.failAttempt(ctx, inst, err)
	}
	st, err := r.runtime.Apply(ctx, spec)
	if err != nil {
		return r.failAttempt(ctx, inst, err)
	}
	now := r.opts.Clock.Now()
	prev := inst.State
	if prev == lifecycle.Provisioning && inst.RestoreBackupID != "" {
		// Made from a backup: it runs (empty) now; its data comes next.
		inst.State, inst.RestoreFrom, inst.Upstream, inst.UpdatedAt = lifecycle.Restoring, lifecycle.Provisioning, st.Upstream, now
		if err := r.record(ctx, inst, lifecycle.Event{}); err != nil {
			return err
		}
		return r.restore(ctx, inst)
	}
	inst.Upstream, inst.Attempts, inst.LastError, inst.UpdatedAt = st.Upstream, 0, "", now
	ev := lifecycle.Event{InstanceID: inst.ID, At: now, Actor: "reconciler", FromState: prev}
	if mode == provisioning.ModeReadOnly {
		inst.State, ev.Type, ev.Reason = lifecycle.Suspended, lifecycle.EventSuspended, inst.SuspendNote
	} else {
		inst.State, inst.SuspendedAt, inst.PurgeAfter, inst.SuspendNote = lifecycle.Active, nil, nil, ""
		ev.Type = lifecycle.EventActivated
		if prev == lifecycle.Resuming {
			ev.Type = lifecycle.EventResumed
		}
	}
	ev.ToState = inst.State
	if err := r.record(ctx, inst, ev); err != nil {
		return err
	}
	r.log.InfoContext(ctx, "instance converged", "instance_id", inst.ID, "state", string(inst.State), "took_ms", now.Sub(start).Milliseconds())
	r.opts.OnChange(inst, from, now.Sub(start))
	return nil
}

func (r *Reconciler) destroy(ctx context.Context, inst lifecycle.Instance) error {
	start := r.opts.Clock.Now()
	from := inst.State
	if inst.State != lifecycle.Destroying {
		inst.State, inst.UpdatedAt = lifecycle.Destroying, start
		if err := r.record(ctx, inst, lifecycle.Event{}); err != nil {
			return err
		}
		r.opts.OnChange(inst, from, 0)
	}
	if err := r.runtime.Destroy(ctx, inst.ID); err != nil {
		return r.failAttempt(ctx, inst, err)
	}
	now := r.opts.Clock.Now()
	inst.State, inst.DestroyedAt, inst.UpdatedAt, inst.Upstream, inst.Attempts, inst.LastError = lifecycle.Destroyed, &now, now, "", 0, ""
	ev := lifecycle.Event{InstanceID: inst.ID, Type: lifecycle.EventDestroyed, At: now, Actor: "reconciler", FromState: lifecycle.Destroying, ToState: lifecycle.Destroyed}
	if err := r.record(ctx, inst, ev); err != nil {
		return err
	}
	if err := r.store.Tombstone(ctx, inst.ID); err != nil {
		return fmt.Errorf("tombstone %s: %w", inst.ID, err)
	}
	r.log.InfoContext(ctx, "instance destroyed", "instance_id", inst.ID, "customer_id", inst.CustomerID)
	r.opts.OnChange(inst, from, now.Sub(start))
	return nil
}

// failAttempt records a failed attempt with backoff; after MaxAttempts the instance is
// "failed" with the error, until someone retries or destroys it. A destroy never gives up.
func (r *Reconciler) failAttempt(ctx context.Context, inst lifecycle.Instance, cause error) error {
	if ctx.Err() != nil {
		return ctx.Err() // shutting down or lease lost: not the instance's fault
	}
	r.opts.OnError(inst, cause)
	now := r.opts.Clock.Now()
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	inst.Attempts++
	inst.LastError, inst.UpdatedAt = msg, now
	inst.NextAttempt = now.Add(lifecycle.Backoff(inst.Attempts))
	ev := lifecycle.Event{InstanceID: inst.ID, Type: lifecycle.EventApplyFailed, At: now, Actor: "reconciler", Reason: msg, FromState: inst.State, ToState: inst.State}
	giveUp := inst.Attempts >= r.opts.MaxAttempts && inst.Desired != lifecycle.WantDestroyed
	if giveUp || errors.Is(cause, provisioning.ErrInvalid) && inst.Desired != lifecycle.WantDestroyed {
		from := inst.State
		inst.State = lifecycle.Failed
		ev.Type, ev.ToState = lifecycle.EventFailed, lifecycle.Failed
		defer r.opts.OnChange(inst, from, 0)
	}
	r.log.WarnContext(ctx, "apply failed", "instance_id", inst.ID, "attempt", inst.Attempts, "error", msg)
	return r.record(ctx, inst, ev)
}
