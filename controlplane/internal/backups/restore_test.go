package backups_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/provisioning"
)

// TestRestoreInPlace: from active and from suspended, the instance goes through
// restoring (app stopped, data replaced, started, committed) back to the state it came
// from with the backup's data and event instance.restored; a suspended one stays
// suspended (read-only) with the same purge_after.
func TestRestoreInPlace(t *testing.T) {
	for _, from := range []lifecycle.State{lifecycle.Active, lifecycle.Suspended} {
		t.Run(string(from), func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			id := e.create("acme", "starter")
			b := e.backup(id)
			if from == lifecycle.Suspended {
				if _, err := e.ctl.Suspend(ctx, id, "unpaid", "test"); err != nil {
					t.Fatal(err)
				}
				e.drain()
			}
			before := e.instance(id)
			e.clock.Advance(time.Hour)
			e.tools.set(id, data("v2 written after the backup", "new attachment"))
			inst, err := e.svc.Restore(ctx, id, b.ID, "test")
			if err != nil {
				t.Fatal(err)
			}
			if inst.State != lifecycle.Restoring || inst.RestoreFrom != from {
				t.Fatalf("after Restore: %s from %q, want restoring from %s", inst.State, inst.RestoreFrom, from)
			}
			var modes []provisioning.Mode
			e.tools.Hook = func(_ string, args []string) error {
				if args[0] == "restore" && args[1] == "--from" {
					e.tools.mu.Lock()
					stopped := e.tools.stopped[id]
					e.tools.mu.Unlock()
					if !stopped {
						t.Error("restore ran with the app not stopped")
					}
				}
				return nil
			}
			rt := e.rt.WithAfterStep(func(string) {})
			_ = rt
			e.drain()
			after := e.instance(id)
			if after.State != from || after.RestoreBackupID != "" || after.RestoreFrom != "" {
				t.Errorf("after the restore: %s (restore %q from %q), want %s", after.State, after.RestoreBackupID, after.RestoreFrom, from)
			}
			if diff := cmp.Diff(data("v1", "first attachment"), e.tools.get(id)); diff != "" {
				t.Errorf("data after the restore (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before.PurgeAfter, after.PurgeAfter); diff != "" {
				t.Errorf("purge_after changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(before.SuspendedAt, after.SuspendedAt); diff != "" {
				t.Errorf("suspended_at changed (-before +after):\n%s", diff)
			}
			st, err := e.rt.Status(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			modes = append(modes, st.Mode)
			want := provisioning.ModeActive
			if from == lifecycle.Suspended {
				want = provisioning.ModeReadOnly
			}
			if modes[0] != want {
				t.Errorf("app runs in mode %s after the restore, want %s", modes[0], want)
			}
			if n := count(e.events(id), lifecycle.EventRestored); n != 1 {
				t.Errorf("%d instance.restored events, want 1: %v", n, e.events(id))
			}
			e.tools.mu.Lock()
			pending := e.tools.previous[id]
			e.tools.mu.Unlock()
			if pending != nil {
				t.Error("the restore was not committed")
			}
		})
	}
}

// TestRestoreRefused: an unknown backup, another instance's, one not completed, an
// instance not settled: refused, nothing changes.
func TestRestoreRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("acme", "starter")
	other := e.create("other", "starter")
	ob := e.backup(other)
	e.vault.WriteErr = func() error { return errTarget }
	pending, _ := e.svc.Create(ctx, id, "test")
	for name, c := range map[string]struct {
		backup string
		want   error
	}{
		"unknown":            {"bk0000000000000000000", lifecycle.ErrNotFound},
		"another instance's": {ob.ID, lifecycle.ErrNotFound},
		"not completed":      {pending.ID, lifecycle.ErrConflict},
	} {
		if _, err := e.svc.Restore(ctx, id, c.backup, "test"); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if st := e.instance(id).State; st != lifecycle.Active {
		t.Fatalf("a refused restore moved the instance to %s", st)
	}
}

// TestRestoreFailurePutsPreviousDataBack: the backup is refused by the vault
// (tampered), the tool refuses it, or the app does not start with it: the previous data
// is back and running, the instance back in its state, event instance.restore_failed
// with the cause in last_error.
func TestRestoreFailurePutsPreviousDataBack(t *testing.T) {
	for name, fail := range map[string]func(e *env){
		"tampered object": func(e *env) { e.vault.ReadErr = vault.ErrTampered },
		"tool refuses": func(e *env) {
			e.tools.Hook = func(_ string, args []string) error {
				if args[0] == "restore" && args[1] == "--from" {
					return &provisioning.ToolError{Args: args, Code: 1, Stderr: "made by a newer sproudchat"}
				}
				return nil
			}
		},
		"app does not start": func(e *env) {
			applies := 0
			e.tools.Hook = func(_ string, args []string) error {
				if args[0] == "restore" && args[1] == "--from" {
					applies++
					e.rt.ApplyErr = provisioning.ErrNotReady // the restored data does not start
				}
				if args[0] == "restore" && args[1] == "--rollback" {
					e.rt.ApplyErr = nil
				}
				return nil
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			id := e.create("acme", "starter")
			b := e.backup(id)
			current := data("v2 current", "current attachment")
			e.tools.set(id, current)
			fail(e)
			if _, err := e.svc.Restore(ctx, id, b.ID, "test"); err != nil {
				t.Fatal(err)
			}
			e.drain()
			inst := e.instance(id)
			if inst.State != lifecycle.Active || inst.LastError == "" {
				t.Errorf("after the failed restore: %s, last error %q; want active with the cause", inst.State, inst.LastError)
			}
			if diff := cmp.Diff(current, e.tools.get(id)); diff != "" {
				t.Errorf("data after the failed restore (-want +got):\n%s", diff)
			}
			if st, err := e.rt.Status(ctx, id); err != nil || !st.Ready {
				t.Errorf("app after the failed restore: %+v, %v; want running", st, err)
			}
			evs := e.events(id)
			if count(evs, lifecycle.EventRestoreFailed) != 1 || count(evs, lifecycle.EventRestored) != 0 {
				t.Errorf("events %v: want one instance.restore_failed, no instance.restored", evs)
			}
		})
	}
}

// TestInterruptedRestoreConverges: the process dies at each step of a restore in turn
// (its context ends; nothing more is recorded), or a step fails for a passing reason;
// the next pass, once the lease is free, runs the restore again and it completes with
// the backup's data.
func TestInterruptedRestoreConverges(t *testing.T) {
	for _, c := range []struct {
		step  string
		crash bool
	}{
		{"stop", true}, {"restore --from", true}, {"apply", true}, {"restore --commit", true}, {"restore --commit", false}, {"stop", false},
	} {
		t.Run(fmt.Sprintf("%s crash=%v", c.step, c.crash), func(t *testing.T) {
			e := newEnv(t)
			id := e.create("acme", "starter")
			b := e.backup(id)
			e.tools.set(id, data("v2"))
			if _, err := e.svc.Restore(context.Background(), id, b.ID, "test"); err != nil {
				t.Fatal(err)
			}
			ctx, kill := context.WithCancel(context.Background())
			defer kill()
			cut := func() error {
				if c.crash {
					kill()
					return context.Canceled
				}
				return errors.New("passing failure")
			}
			done := false
			e.tools.Hook = func(_ string, args []string) error {
				if !done && strings.HasPrefix(strings.Join(args, " "), c.step) {
					done = true
					return cut()
				}
				return nil
			}
			if c.step == "apply" {
				e.rt.AfterStep = func(string) {
					if !done && e.tools.get(id).DB == "v1" {
						done = true
						kill()
					}
				}
			}
			e.rec.Step(ctx)
			e.rt.AfterStep = nil
			if !done {
				t.Fatal("the restore never reached the step")
			}
			if st := e.instance(id).State; st != lifecycle.Restoring {
				t.Fatalf("after the cut the instance is %s, want still restoring", st)
			}
			e.clock.Advance(time.Hour)
			e.drain()
			if st := e.instance(id).State; st != lifecycle.Active {
				t.Fatalf("after the next pass: %s, want active", st)
			}
			if diff := cmp.Diff(data("v1", "first attachment"), e.tools.get(id)); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
			e.tools.mu.Lock()
			pending := e.tools.previous[id]
			e.tools.mu.Unlock()
			if pending != nil {
				t.Error("the restore was not committed")
			}
			if n := count(e.events(id), lifecycle.EventRestored); n != 1 {
				t.Errorf("%d instance.restored events, want 1", n)
			}
		})
	}
}

// TestRestoreIntoNewInstance: a new instance made from a backup of a destroyed
// instance gets the backup's secret key and data, then is active; an unknown or
// incomplete backup is a field error on restore_from.
func TestRestoreIntoNewInstance(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src := e.create("acme", "starter")
	e.tools.set(src, data("source data", "source attachment"))
	b := e.backup(src)
	if _, err := e.ctl.Destroy(ctx, src, "", "test"); err != nil {
		t.Fatal(err)
	}
	e.drain()
	m, _ := e.vault.Manifest(ctx, src, b.ID)
	n, err := e.ctl.NewInstance(lifecycle.CreateRequest{CustomerID: "cus_1", Slug: "acme", Plan: "starter", AdminEmail: "a@example.org", RestoreFrom: b.ID})
	if err != nil {
		t.Fatal(err)
	}
	if n.SetupURL != "" {
		t.Errorf("an instance made from a backup got a setup link, %s: its users come with the backup", n.SetupURL)
	}
	if err := e.ctl.Create(ctx, n, "test", nil); err != nil {
		t.Fatal(err)
	}
	id := n.Instance.ID
	e.drain()
	inst := e.instance(id)
	if inst.State != lifecycle.Active {
		t.Fatalf("new instance from the backup is %s (%s), want active", inst.State, inst.LastError)
	}
	if diff := cmp.Diff(data("source data", "source attachment"), e.tools.get(id)); diff != "" {
		t.Errorf("new instance's data (-want +got):\n%s", diff)
	}
	spec, err := e.specs.Spec(ctx, inst, provisioning.ModeActive)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := spec.Secrets["SPROUDCHAT_SECRET_KEY"], m.Secrets["SPROUDCHAT_SECRET_KEY"]; got != want || got == "" {
		t.Error("the new instance's secret key is not the backup's")
	}
	evs := e.events(id)
	if count(evs, lifecycle.EventActivated) != 1 || count(evs, lifecycle.EventRestored) != 1 {
		t.Errorf("events %v: want instance.activated and instance.restored", evs)
	}

	e.vault.WriteErr = func() error { return errTarget }
	pending, _ := e.svc.Create(ctx, id, "test")
	for name, from := range map[string]string{"unknown": "bk0000000000000000000", "not completed": pending.ID, "malformed": "../etc"} {
		n, err := e.ctl.NewInstance(lifecycle.CreateRequest{CustomerID: "cus_1", Slug: "other-" + secret.Random(2), Plan: "starter", AdminEmail: "a@example.org", RestoreFrom: from})
		if err == nil {
			err = e.ctl.Create(ctx, n, "test", nil)
		}
		var ve *lifecycle.ValidationError
		if !errors.As(err, &ve) || ve.Fields["restore_from"] == "" {
			t.Errorf("%s backup: %v, want a field error on restore_from", name, err)
		}
	}
}

// TestRestoreIntoNewInstanceFails: a backup that cannot be restored leaves the new
// instance failed (a retry restores again), never active with empty data.
func TestRestoreIntoNewInstanceFails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src := e.create("acme", "starter")
	b := e.backup(src)
	e.vault.ReadErr = vault.ErrMissing
	n, _ := e.ctl.NewInstance(lifecycle.CreateRequest{CustomerID: "cus_1", Slug: "copy", Plan: "starter", AdminEmail: "a@example.org", RestoreFrom: b.ID})
	if err := e.ctl.Create(ctx, n, "test", nil); err != nil {
		t.Fatal(err)
	}
	e.drain()
	inst := e.instance(n.Instance.ID)
	if inst.State != lifecycle.Failed || inst.RestoreBackupID != b.ID {
		t.Fatalf("new instance after a failed restore: %s, restore %q; want failed, kept", inst.State, inst.RestoreBackupID)
	}
	e.vault.ReadErr = nil
	if _, err := e.ctl.Retry(ctx, inst.ID, "test"); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if st := e.instance(inst.ID).State; st != lifecycle.Active {
		t.Fatalf("after a retry: %s, want active", st)
	}
	if diff := cmp.Diff(data("v1", "first attachment"), e.tools.get(inst.ID)); diff != "" {
		t.Errorf("data after the retry (-want +got):\n%s", diff)
	}
}

var _ = json.Marshal

// TestRestoreIntoNewInstanceSuspendedFirst: a new instance made from a backup and
// suspended before it first ran still gets the backup's data, then is suspended.
func TestRestoreIntoNewInstanceSuspendedFirst(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src := e.create("acme", "starter")
	b := e.backup(src)
	n, _ := e.ctl.NewInstance(lifecycle.CreateRequest{CustomerID: "cus_1", Slug: "copy", Plan: "starter", AdminEmail: "a@example.org", RestoreFrom: b.ID})
	if err := e.ctl.Create(ctx, n, "test", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctl.Suspend(ctx, n.Instance.ID, "unpaid", "billing"); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if inst := e.instance(n.Instance.ID); inst.State != lifecycle.Suspended || inst.RestoreBackupID != "" {
		t.Fatalf("copy: %s, restore %q pending; want suspended, restored", inst.State, inst.RestoreBackupID)
	}
	if diff := cmp.Diff(data("v1", "first attachment"), e.tools.get(n.Instance.ID)); diff != "" {
		t.Errorf("copy's data (-want +got):\n%s", diff)
	}
}
