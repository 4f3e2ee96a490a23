package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func newInstance(id, slug string) lifecycle.Instance {
	return lifecycle.Instance{ID: id, CustomerID: "cus_1", Slug: slug, Plan: "starter", AdminEmail: "a@example.org",
		State: lifecycle.Provisioning, Desired: lifecycle.WantActive, NextAttempt: t0, CreatedAt: t0, UpdatedAt: t0}
}

func created(id string) lifecycle.Event {
	return lifecycle.Event{InstanceID: id, Type: lifecycle.EventCreated, At: t0, ToState: lifecycle.Provisioning}
}

func TestMigrateEmptyToLatest(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		db := storetest.MustOpen(t, d)
		v, err := db.CurrentVersion(context.Background())
		latest, _ := db.LatestVersion()
		if err != nil || v != latest || v < 1 {
			t.Fatalf("version %d (%v), latest %d", v, err, latest)
		}
		if again, err := db.Migrate(context.Background()); err != nil || len(again) != 0 {
			t.Fatalf("second migrate: %v %v", again, err)
		}
	})
}

func TestSlugIsUniqueAmongLiveInstances(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		s := store.New(storetest.MustOpen(t, d))
		if err := s.CreateInstance(ctx, newInstance("in1", "acme"), nil, created("in1"), nil); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateInstance(ctx, newInstance("in2", "acme"), nil, created("in2"), nil); !errors.Is(err, lifecycle.ErrConflict) {
			t.Fatalf("second acme: %v, want ErrConflict", err)
		}
		if _, err := s.FindInstance(ctx, "in2"); !errors.Is(err, lifecycle.ErrNotFound) {
			t.Fatal("the refused instance was stored")
		}
		// Once destroyed (a tombstone), the slug is free again.
		if _, err := s.Change(ctx, "in1", func(i *lifecycle.Instance) (lifecycle.Event, error) {
			i.State, i.Desired = lifecycle.Destroyed, lifecycle.WantDestroyed
			return lifecycle.Event{}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateInstance(ctx, newInstance("in3", "acme"), nil, created("in3"), nil); err != nil {
			t.Fatalf("acme after the first was destroyed: %v", err)
		}
	})
}

func TestIdempotencyRecordIsWrittenWithTheInstance(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		s := store.New(storetest.MustOpen(t, d))
		idem := &lifecycle.Idempotent{TokenID: 1, Key: "k1", RequestHash: "h", Status: 202, Body: []byte("sealed")}
		if err := s.CreateInstance(ctx, newInstance("in1", "acme"), nil, created("in1"), idem); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateInstance(ctx, newInstance("in2", "other"), nil, created("in2"), idem); !errors.Is(err, lifecycle.ErrKeyUsed) {
			t.Fatalf("reused key: %v, want ErrKeyUsed", err)
		}
		got, err := s.FindIdempotent(ctx, 1, "k1")
		if err != nil {
			t.Fatalf("stored response: %v", err)
		}
		if diff := cmp.Diff(*idem, got); diff != "" {
			t.Fatalf("stored response (-want +got):\n%s", diff)
		}
		if _, err := s.FindInstance(ctx, "in2"); !errors.Is(err, lifecycle.ErrNotFound) {
			t.Fatal("an instance was created under a used key")
		}
		// A failed create (slug taken) stores no response under its key.
		idem2 := &lifecycle.Idempotent{TokenID: 1, Key: "k2", RequestHash: "h2", Status: 202, Body: []byte("x")}
		if err := s.CreateInstance(ctx, newInstance("in3", "acme"), nil, created("in3"), idem2); !errors.Is(err, lifecycle.ErrConflict) {
			t.Fatal(err)
		}
		if _, err := s.FindIdempotent(ctx, 1, "k2"); !errors.Is(err, lifecycle.ErrNotFound) {
			t.Fatal("a failed create left its idempotency record")
		}
	})
}

// TestClaimGrantsOneLeaseAtATime: many workers race for the same due instances; each
// instance is held by at most one, and a lapsed lease can be taken over.
func TestClaimGrantsOneLeaseAtATime(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		s := store.New(storetest.MustOpen(t, d))
		for i := 0; i < 5; i++ {
			id := fmt.Sprintf("in%d", i)
			if err := s.CreateInstance(ctx, newInstance(id, fmt.Sprintf("slug-%d", i)), nil, created(id), nil); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		holders := map[string]string{}
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(owner string) {
				defer wg.Done()
				for {
					inst, ok, err := s.Claim(ctx, owner, t0.Add(time.Second), time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						return
					}
					mu.Lock()
					if prev, taken := holders[inst.ID]; taken {
						t.Errorf("%s leased by %s and %s", inst.ID, prev, owner)
					}
					holders[inst.ID] = owner
					mu.Unlock()
				}
			}(fmt.Sprintf("w%d", w))
		}
		wg.Wait()
		if len(holders) != 5 {
			t.Fatalf("%d instances claimed, want 5", len(holders))
		}
		// Fenced: a worker without the lease cannot transition.
		inst, _ := s.FindInstance(ctx, "in0")
		inst.State = lifecycle.Active
		if err := s.Transition(ctx, inst, "intruder", lifecycle.Event{}); !errors.Is(err, lifecycle.ErrLeaseLost) {
			t.Fatalf("transition without the lease: %v", err)
		}
		// After the lease lapses, another worker takes over.
		if _, ok, _ := s.Claim(ctx, "late", t0.Add(30*time.Second), time.Minute); ok {
			t.Fatal("claimed while every lease is live")
		}
		got, ok, err := s.Claim(ctx, "late", t0.Add(2*time.Minute), time.Minute)
		if err != nil || !ok {
			t.Fatalf("claim after expiry: claimed %v, %v", ok, err)
		}
		if got.LeaseOwner != "late" {
			t.Fatalf("claim after expiry: lease owner %q, want late", got.LeaseOwner)
		}
	})
}

func TestRetentionKeepsTombstones(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		s := store.New(storetest.MustOpen(t, d))
		s.CreateInstance(ctx, newInstance("in1", "acme"), []byte("sealed"), created("in1"), nil)
		if err := s.Tombstone(ctx, "in1"); err != nil {
			t.Fatal(err)
		}
		n, err := s.DeleteEventsBefore(ctx, t0.Add(90*24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("deleted %d events, %v", n, err)
		}
		inst, err := s.FindInstance(ctx, "in1")
		if err != nil {
			t.Fatalf("tombstone: %v", err)
		}
		type tomb struct{ CustomerID, AdminEmail string }
		if diff := cmp.Diff(tomb{CustomerID: "cus_1"}, tomb{inst.CustomerID, inst.AdminEmail}); diff != "" {
			t.Fatalf("tombstone (-want +got):\n%s", diff)
		}
		if sec, _ := s.Secrets(ctx, "in1"); len(sec) != 0 {
			t.Fatal("the tombstone keeps secrets")
		}
	})
}
