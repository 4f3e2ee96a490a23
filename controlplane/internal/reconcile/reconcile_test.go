package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sproudstack/sproudchat/controlplane/internal/control"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/reconcile"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

// recorder wraps the fake runtime: it keeps the applied specs and counts moments when
// two calls worked on one instance at once.
type recorder struct {
	*runtimetest.Fake
	delay    time.Duration
	mu       sync.Mutex
	specs    []provisioning.Spec
	inflight map[string]int
	overlaps int
}

func newRecorder() *recorder {
	return &recorder{Fake: runtimetest.NewFake(), inflight: map[string]int{}}
}

func (r *recorder) enter(id string) func() {
	r.mu.Lock()
	r.inflight[id]++
	if r.inflight[id] > 1 {
		r.overlaps++
	}
	r.mu.Unlock()
	time.Sleep(r.delay)
	return func() { r.mu.Lock(); r.inflight[id]--; r.mu.Unlock() }
}

func (r *recorder) Apply(ctx context.Context, s provisioning.Spec) (provisioning.Status, error) {
	defer r.enter(s.ID)()
	r.mu.Lock()
	r.specs = append(r.specs, s)
	r.mu.Unlock()
	return r.Fake.Apply(ctx, s)
}

func (r *recorder) Destroy(ctx context.Context, id string) error {
	defer r.enter(id)()
	return r.Fake.Destroy(ctx, id)
}

type env struct {
	svc   *control.Service
	specs *control.Specs
	store *store.Store
	clock *clock.Fake
	rt    *recorder
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	plans, err := template.LoadDir("../../../templates")
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secret.New(make([]byte, 32))
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	st := store.New(db)
	specs := control.NewSpecs(st, control.SpecOptions{Box: box, Plans: plans, Version: "test", BaseDomain: "sproud.test", Scheme: "https"})
	svc := control.New(st, control.Options{Clock: clk, Specs: specs})
	return &env{svc: svc, specs: specs, store: st, clock: clk, rt: newRecorder()}
}

func (e *env) reconciler(owner string) *reconcile.Reconciler {
	return reconcile.New(e.store, e.rt, e.specs, reconcile.Options{Owner: owner, Clock: e.clock, MaxAttempts: 3})
}

func (e *env) create(t *testing.T, slug string) string {
	t.Helper()
	n, err := e.svc.NewInstance(lifecycle.CreateRequest{CustomerID: "cus_1", Slug: slug, Plan: "starter", AdminEmail: "a@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Create(context.Background(), n, "test", nil); err != nil {
		t.Fatal(err)
	}
	return n.Instance.ID
}

// drain runs steps until nothing is due.
func drain(t *testing.T, r *reconcile.Reconciler) {
	t.Helper()
	for i := 0; i < 100; i++ {
		worked, err := r.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !worked {
			return
		}
	}
	t.Fatal("the reconciler never settled")
}

func eventTypes(t *testing.T, s *store.Store, id string) []string {
	evs, err := s.ListEvents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// shape is what the lifecycle tests check of an instance: its state, error and admin
// e-mail, which of its optional fields are set, and when its data is purged.
type shape struct {
	State                              lifecycle.State
	LastError, AdminEmail              string
	Upstream, SuspendedAt, DestroyedAt bool
	PurgeAfter                         *time.Time
}

func wantShape(t *testing.T, when string, want shape, inst lifecycle.Instance) {
	t.Helper()
	got := shape{State: inst.State, LastError: inst.LastError, AdminEmail: inst.AdminEmail, Upstream: inst.Upstream != "",
		SuspendedAt: inst.SuspendedAt != nil, DestroyedAt: inst.DestroyedAt != nil, PurgeAfter: inst.PurgeAfter}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s: instance (-want +got):\n%s", when, diff)
	}
}

// specShape is what the lifecycle tests check of a spec applied to the runtime.
type specShape struct {
	Mode          provisioning.Mode
	BaseURL       string
	SecretKeyLen  int
	ReadOnlyUntil time.Time
}

func TestLifecycleThroughTheReconciler(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		e := newEnv(t, storetest.MustOpen(t, d))
		r := e.reconciler("w1")
		id := e.create(t, "acme")
		drain(t, r)
		inst, _ := e.svc.Get(ctx, id)
		wantShape(t, "after create", shape{State: lifecycle.Active, AdminEmail: "a@example.org", Upstream: true}, inst)
		s := e.rt.specs[0]
		if diff := cmp.Diff(specShape{Mode: provisioning.ModeActive, BaseURL: "https://acme.sproud.test", SecretKeyLen: 64},
			specShape{Mode: s.Mode, BaseURL: s.BaseURL, SecretKeyLen: len(s.Secrets["SPROUDCHAT_SECRET_KEY"])}); diff != "" {
			t.Fatalf("applied spec (-want +got):\n%s", diff)
		}
		if _, err := e.svc.Suspend(ctx, id, "unpaid", "billing"); err != nil {
			t.Fatal(err)
		}
		drain(t, r)
		inst, _ = e.svc.Get(ctx, id)
		purge := e.clock.Now().AddDate(0, 0, 30)
		wantShape(t, "after suspend", shape{State: lifecycle.Suspended, AdminEmail: "a@example.org", Upstream: true, SuspendedAt: true, PurgeAfter: &purge}, inst)
		last := e.rt.specs[len(e.rt.specs)-1]
		if diff := cmp.Diff(specShape{Mode: provisioning.ModeReadOnly, BaseURL: "https://acme.sproud.test", SecretKeyLen: 64, ReadOnlyUntil: purge},
			specShape{Mode: last.Mode, BaseURL: last.BaseURL, SecretKeyLen: len(last.Secrets["SPROUDCHAT_SECRET_KEY"]), ReadOnlyUntil: last.ReadOnlyUntil}); diff != "" {
			t.Fatalf("suspend applied (-want +got):\n%s", diff)
		}
		if _, err := e.svc.Suspend(ctx, id, "again", "billing"); err != nil {
			t.Fatalf("suspending a suspended instance: %v, want a no-op", err)
		}
		if _, err := e.svc.Resume(ctx, id, "", "billing"); err != nil {
			t.Fatal(err)
		}
		drain(t, r)
		inst, _ = e.svc.Get(ctx, id)
		wantShape(t, "after resume", shape{State: lifecycle.Active, AdminEmail: "a@example.org", Upstream: true}, inst)
		if _, err := e.svc.Destroy(ctx, id, "", "ops"); err != nil {
			t.Fatal(err)
		}
		drain(t, r)
		inst, _ = e.svc.Get(ctx, id)
		wantShape(t, "after destroy", shape{State: lifecycle.Destroyed, DestroyedAt: true}, inst)
		if _, err := e.rt.Status(ctx, id); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatal("the runtime still has the instance")
		}
		if _, err := e.svc.Resume(ctx, id, "", "billing"); !errors.Is(err, lifecycle.ErrConflict) {
			t.Fatalf("resuming a destroyed instance: %v", err)
		}
		want := fmt.Sprint([]string{lifecycle.EventCreated, lifecycle.EventActivated, lifecycle.EventRequested, lifecycle.EventSuspended,
			lifecycle.EventRequested, lifecycle.EventResumed, lifecycle.EventRequested, lifecycle.EventDestroyed})
		if got := fmt.Sprint(eventTypes(t, e.store, id)); got != want {
			t.Fatalf("events %s, want %s", got, want)
		}
	})
}

func TestFailuresBackOffThenFail(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		e := newEnv(t, storetest.MustOpen(t, d))
		e.rt.ApplyErr = errors.New("engine unreachable")
		r := e.reconciler("w1")
		id := e.create(t, "flaky")
		for attempt := 1; attempt <= 3; attempt++ {
			if worked, _ := r.Step(ctx); !worked {
				t.Fatalf("attempt %d not taken", attempt)
			}
			if worked, _ := r.Step(ctx); worked {
				t.Fatalf("attempt %d retried before its backoff", attempt)
			}
			e.clock.Advance(lifecycle.Backoff(attempt))
		}
		inst, _ := e.svc.Get(ctx, id)
		wantShape(t, "after 3 failures", shape{State: lifecycle.Failed, LastError: "engine unreachable", AdminEmail: "a@example.org"}, inst)
		evs := eventTypes(t, e.store, id)
		if evs[len(evs)-1] != lifecycle.EventFailed {
			t.Fatalf("events %v", evs)
		}
		// Retry sends it back; with the engine back it becomes active.
		e.rt.ApplyErr = nil
		if _, err := e.svc.Retry(ctx, id, "ops"); err != nil {
			t.Fatal(err)
		}
		drain(t, r)
		inst, _ = e.svc.Get(ctx, id)
		wantShape(t, "after retry", shape{State: lifecycle.Active, AdminEmail: "a@example.org", Upstream: true}, inst)
		if _, err := e.svc.Retry(ctx, id, "ops"); !errors.Is(err, lifecycle.ErrConflict) {
			t.Fatalf("retrying an active instance: %v", err)
		}
	})
}

// TestTwoReconcilersNeverShareAnInstance runs two reconcilers, as two serve processes
// would, on one database; the runtime counts any moment two of them worked on one
// instance.
func TestTwoReconcilersNeverShareAnInstance(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		dbs := storetest.MustOpenN(t, d, 2)
		e := newEnv(t, dbs[0])
		e.rt.delay = 20 * time.Millisecond
		var ids []string
		for i := 0; i < 12; i++ {
			ids = append(ids, e.create(t, fmt.Sprintf("race-%02d", i)))
		}
		var wg sync.WaitGroup
		second := reconcile.New(store.New(dbs[1]), e.rt, e.specs, reconcile.Options{Owner: "serve-b", Clock: e.clock})
		for _, r := range []*reconcile.Reconciler{e.reconciler("serve-a"), second} {
			wg.Add(1)
			go func(r *reconcile.Reconciler) {
				defer wg.Done()
				for {
					worked, err := r.Step(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					if !worked {
						return
					}
				}
			}(r)
		}
		wg.Wait()
		if e.rt.overlaps != 0 {
			t.Fatalf("%d overlapping runtime calls on one instance", e.rt.overlaps)
		}
		for _, id := range ids {
			if inst, _ := e.svc.Get(context.Background(), id); inst.State != lifecycle.Active {
				t.Errorf("%s is %s", id, inst.State)
			}
		}
	})
}
