package jobs_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sproudstack/sproudchat/controlplane/internal/control"
	"github.com/sproudstack/sproudchat/controlplane/internal/jobs"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/reconcile"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

func drain(t *testing.T, r *reconcile.Reconciler) {
	t.Helper()
	for i := 0; i < 50; i++ {
		if worked, err := r.Step(context.Background()); err != nil {
			t.Fatal(err)
		} else if !worked {
			return
		}
	}
}

// TestPurgeAfterThirtyDays: a suspended instance survives 29 days and is destroyed once
// the clock passes 30, through the same path as any destroy.
func TestPurgeAfterThirtyDays(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		plans, _ := template.LoadDir("../../../templates")
		box, _ := secret.New(bytes.Repeat([]byte{2}, 32))
		clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
		st := store.New(storetest.MustOpen(t, d))
		specs := control.NewSpecs(st, control.SpecOptions{Box: box, Plans: plans, Version: "t", BaseDomain: "sproud.test"})
		svc := control.New(st, control.Options{Clock: clk, Specs: specs})
		rt := runtimetest.NewFake()
		rec := reconcile.New(st, rt, specs, reconcile.Options{Owner: "w", Clock: clk})
		j := jobs.New(st, svc, clk, nil)

		n, err := svc.NewInstance(lifecycle.CreateRequest{CustomerID: "c", Slug: "late-payer", Plan: "starter", AdminEmail: "a@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Create(ctx, n, "t", nil); err != nil {
			t.Fatal(err)
		}
		out := n.Instance
		drain(t, rec)
		if _, err := svc.Suspend(ctx, out.ID, "unpaid", "billing"); err != nil {
			t.Fatal(err)
		}
		drain(t, rec)

		clk.Advance(29 * 24 * time.Hour)
		if n, err := j.Purge(ctx); err != nil || n != 0 {
			t.Fatalf("purge at 29 days: %d, %v", n, err)
		}
		drain(t, rec)
		if inst, _ := svc.Get(ctx, out.ID); inst.State != lifecycle.Suspended {
			t.Fatalf("at 29 days the instance is %s", inst.State)
		}

		clk.Advance(24*time.Hour + time.Second)
		if n, err := j.Purge(ctx); err != nil || n != 1 {
			t.Fatalf("purge at 30 days: %d, %v", n, err)
		}
		drain(t, rec)
		inst, _ := svc.Get(ctx, out.ID)
		type tomb struct {
			State                        lifecycle.State
			CustomerID, Plan, AdminEmail string
		}
		tombOf := func(i lifecycle.Instance) tomb { return tomb{i.State, i.CustomerID, i.Plan, i.AdminEmail} }
		wantTomb := tomb{State: lifecycle.Destroyed, CustomerID: "c", Plan: "starter"}
		if diff := cmp.Diff(wantTomb, tombOf(inst)); diff != "" {
			t.Fatalf("at 30 days (-want +got):\n%s", diff)
		}
		if _, err := rt.Status(ctx, out.ID); err == nil {
			t.Fatal("the runtime still holds the purged instance")
		}
		evs, _ := st.ListEvents(ctx, out.ID)
		if last := evs[len(evs)-1]; last.Type != lifecycle.EventDestroyed {
			t.Fatalf("last event %s, want %s", last.Type, lifecycle.EventDestroyed)
		}
		if n, _ := j.Purge(ctx); n != 0 {
			t.Fatal("a destroyed instance was purged again")
		}

		// Retention: after 90 more days its events go; the tombstone stays.
		clk.Advance(91 * 24 * time.Hour)
		if err := j.Retention(ctx); err != nil {
			t.Fatal(err)
		}
		if evs, _ := st.ListEvents(ctx, out.ID); len(evs) != 0 {
			t.Fatalf("%d events older than 90 days kept", len(evs))
		}
		inst, err = svc.Get(ctx, out.ID)
		if err != nil {
			t.Fatalf("tombstone: %v", err)
		}
		if diff := cmp.Diff(wantTomb, tombOf(inst)); diff != "" {
			t.Fatalf("tombstone after retention (-want +got):\n%s", diff)
		}
	})
}
