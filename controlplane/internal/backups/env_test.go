package backups_test

import (
	"context"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/backups"
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

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// env is the control plane around the backups service: the real store (SQLite), the
// real specs, control service and reconciler, a fake runtime, tools and vault.
type env struct {
	t     *testing.T
	store *store.Store
	clock *clock.Fake
	specs *control.Specs
	ctl   *control.Service
	rt    *runtimetest.Fake
	tools *tools
	vault *fakeVault
	svc   *backups.Service
	rec   *reconcile.Reconciler
	// What the service and reconciler use: the fakes above, or real ones.
	v       backups.Vault
	runtime provisioning.Runtime
	toolsOf provisioning.Tools
}

// runtimeTools is a runtime with its tools (the process and docker runtimes).
type runtimeTools interface {
	provisioning.Runtime
	provisioning.Tools
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, storetest.MustOpen(t, store.SQLite))
}

func newEnvOn(t *testing.T, db *store.DB) *env {
	t.Helper()
	return newEnvWith(t, db, nil, nil)
}

// newEnvWith is newEnv on db with v as the vault and rt as the runtime and tools
// (nil: the fakes).
func newEnvWith(t *testing.T, db *store.DB, v backups.Vault, rt runtimeTools) *env {
	t.Helper()
	plans, err := template.LoadDir("../../../templates")
	if err != nil {
		t.Fatal(err)
	}
	for name, days := range map[string]int{"long": 120, "short": 30} {
		p := plans["starter"]
		p.Name, p.Lifecycle.BackupRetentionDays = name, days
		plans[name] = p
	}
	box, _ := secret.New(make([]byte, 32))
	e := &env{t: t, store: store.New(db), clock: clock.NewFake(t0), rt: runtimetest.NewFake(), tools: newTools(), vault: newVault()}
	e.v, e.runtime, e.toolsOf = e.vault, e.rt, e.tools
	if v != nil {
		e.v = v
	}
	if rt != nil {
		e.runtime, e.toolsOf = rt, rt
	}
	e.specs = control.NewSpecs(e.store, control.SpecOptions{Box: box, Plans: plans, Version: "test", BaseDomain: "sproud.test"})
	e.svc = e.service("w1")
	e.ctl = control.New(e.store, control.Options{Clock: e.clock, Specs: e.specs, Backups: e.svc})
	e.rec = reconcile.New(e.store, e.runtime, e.specs, reconcile.Options{Owner: "rec", Clock: e.clock, MaxAttempts: 3, Restorer: e.svc})
	return e
}

// service is a backups service as another process (owner) would run it.
func (e *env) service(owner string) *backups.Service {
	return backups.New(backups.Options{Store: e.store, Vault: e.v, Runtime: e.runtime, Tools: e.toolsOf, Specs: e.specs, Clock: e.clock,
		Owner: owner, MaxAttempts: 3, LeaseTTL: time.Minute})
}

// create makes an instance through the control service and runs it (active), with data.
func (e *env) create(slug, plan string) string {
	e.t.Helper()
	n, err := e.ctl.NewInstance(lifecycle.CreateRequest{CustomerID: "cus_1", Slug: slug, Plan: plan, AdminEmail: "a@example.org"})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.ctl.Create(context.Background(), n, "test", nil); err != nil {
		e.t.Fatal(err)
	}
	e.drain()
	e.tools.set(n.Instance.ID, data("v1", "first attachment"))
	return n.Instance.ID
}

func data(db string, blobs ...string) dataset {
	d := dataset{DB: db, Rows: map[string]int64{"tickets": int64(len(db)), "users": 1}, Blobs: map[string]string{}}
	for _, b := range blobs {
		d.Blobs[sum([]byte(b))] = b
	}
	return d
}

// drain runs the reconciler until nothing is due.
func (e *env) drain() {
	e.t.Helper()
	for range 100 {
		worked, err := e.rec.Step(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if !worked {
			return
		}
	}
	e.t.Fatal("the reconciler never settled")
}

// work runs the backup worker until nothing is due.
func (e *env) work() {
	e.t.Helper()
	for range 100 {
		worked, err := e.svc.Step(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if !worked {
			return
		}
	}
	e.t.Fatal("the backup worker never settled")
}

// backup takes a manual backup of id now and returns it as recorded.
func (e *env) backup(id string) lifecycle.Backup {
	e.t.Helper()
	b, err := e.svc.Create(context.Background(), id, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	e.work()
	got, err := e.store.FindBackup(context.Background(), b.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	if got.State != lifecycle.BackupCompleted {
		e.t.Fatalf("backup %s is %s (%s), want completed", got.ID, got.State, got.LastError)
	}
	return got
}

func (e *env) instance(id string) lifecycle.Instance {
	e.t.Helper()
	inst, err := e.store.FindInstance(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return inst
}

func (e *env) events(id string) []string {
	e.t.Helper()
	evs, err := e.store.ListEvents(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func count(list []string, typ string) int {
	n := 0
	for _, x := range list {
		if x == typ {
			n++
		}
	}
	return n
}
