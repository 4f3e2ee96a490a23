package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/store/storetest"
)

func pendingBackup(id, inst string, at time.Time) lifecycle.Backup {
	return lifecycle.Backup{ID: id, InstanceID: inst, State: lifecycle.BackupPending, Trigger: lifecycle.TriggerSchedule,
		CreatedAt: at, ExpiresAt: at.AddDate(0, 0, 90), NextAttempt: at}
}

// TestBackupRoundTrip: a backup is stored, claimed (running, leased), fenced by its
// lease, completed, listed newest first; a completed backup clears the stale mark.
func TestBackupRoundTrip(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		s := store.New(storetest.MustOpen(t, d))
		if err := s.CreateInstance(ctx, newInstance("in1", "acme"), nil, created("in1"), nil); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateBackup(ctx, pendingBackup("bk1", "in1", t0), lifecycle.Event{}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateBackup(ctx, pendingBackup("bk1", "in1", t0), lifecycle.Event{}); !errors.Is(err, lifecycle.ErrConflict) {
			t.Fatalf("same id again: %v, want ErrConflict", err)
		}
		if err := s.CreateBackup(ctx, pendingBackup("bk2", "in1", t0.Add(time.Hour)), lifecycle.Event{}); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListBackups(ctx, "in1")
		if err != nil || len(list) != 2 || list[0].ID != "bk2" {
			t.Fatalf("list = %+v, %v; want bk2 then bk1", list, err)
		}
		if _, ok, _ := s.ClaimBackup(ctx, "w1", t0.Add(-time.Second), time.Minute); ok {
			t.Fatal("claimed a backup before it was due")
		}
		b, ok, err := s.ClaimBackup(ctx, "w1", t0, time.Minute)
		if err != nil || !ok || b.ID != "bk1" || b.State != lifecycle.BackupRunning {
			t.Fatalf("claim = %+v %v %v, want bk1 running", b, ok, err)
		}
		if _, ok, _ := s.ClaimBackup(ctx, "w2", t0.Add(30*time.Second), time.Minute); ok {
			t.Fatal("claimed a running backup under a live lease (or bk2 before it was due)")
		}
		// The worker died: after its lease lapses, another takes the running backup again.
		b2, ok, err := s.ClaimBackup(ctx, "w2", t0.Add(2*time.Minute), time.Minute)
		if err != nil || !ok || b2.ID != "bk1" {
			t.Fatalf("claim after expiry = %+v %v %v, want bk1", b2, ok, err)
		}
		now := t0.Add(3 * time.Minute)
		b2.State, b2.CompletedAt, b2.SizeBytes, b2.AddedBytes = lifecycle.BackupCompleted, &now, 100, 40
		if err := s.UpdateBackup(ctx, b2, "w1", lifecycle.Event{}); !errors.Is(err, lifecycle.ErrLeaseLost) {
			t.Fatalf("update by the old owner: %v, want ErrLeaseLost", err)
		}
		if err := s.MarkStale(ctx, "in1", &now, lifecycle.Event{}); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkStale(ctx, "in1", &now, lifecycle.Event{}); !errors.Is(err, lifecycle.ErrConflict) {
			t.Fatalf("marked stale twice: %v", err)
		}
		ev := lifecycle.Event{InstanceID: "in1", Type: lifecycle.EventBackupCompleted, At: now, Reason: "bk1"}
		if err := s.UpdateBackup(ctx, b2, "w2", ev); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindBackup(ctx, "bk1")
		if err != nil {
			t.Fatal(err)
		}
		want := b2
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("completed backup (-want +got):\n%s", diff)
		}
		inst, _ := s.FindInstance(ctx, "in1")
		if inst.BackupStaleAt != nil {
			t.Fatal("a completed backup left the stale mark")
		}
		sums, err := s.BackupSummaries(ctx)
		if err != nil || len(sums) != 1 {
			t.Fatalf("summaries = %+v, %v", sums, err)
		}
		if sums[0].LastSuccess == nil || !sums[0].LastSuccess.Equal(now) || sums[0].StoredBytes != 100 {
			t.Fatalf("summary = %+v, want last success %v and 100 bytes", sums[0], now)
		}
		evs, _ := s.ListEvents(ctx, "in1")
		if evs[len(evs)-1].Type != lifecycle.EventBackupCompleted {
			t.Fatalf("last event %q, want backup.completed", evs[len(evs)-1].Type)
		}
		if _, err := s.FindBackup(ctx, "nope"); !errors.Is(err, lifecycle.ErrNotFound) {
			t.Fatalf("unknown backup: %v", err)
		}
	})
}

func TestExpiredBackupsAndPurge(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		s := store.New(storetest.MustOpen(t, d))
		s.CreateInstance(ctx, newInstance("in1", "acme"), nil, created("in1"), nil)
		for i, id := range []string{"bk1", "bk2", "bk3"} {
			if err := s.CreateBackup(ctx, pendingBackup(id, "in1", t0.AddDate(0, 0, i)), lifecycle.Event{}); err != nil {
				t.Fatal(err)
			}
		}
		exp, err := s.ExpiredBackups(ctx, t0.AddDate(0, 0, 91))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, b := range exp {
			ids = append(ids, b.ID)
		}
		if diff := cmp.Diff([]string{"bk1", "bk2"}, ids); diff != "" {
			t.Fatalf("expired at day 91 (-want +got):\n%s", diff)
		}
		n, err := s.DeleteBackups(ctx, "in1", lifecycle.Event{InstanceID: "in1", Type: lifecycle.EventBackupsPurged, At: t0})
		if err != nil || n != 3 {
			t.Fatalf("purged %d rows, %v; want 3", n, err)
		}
		if list, _ := s.ListBackups(ctx, "in1"); len(list) != 0 {
			t.Fatalf("%d rows left after purge", len(list))
		}
	})
}

func TestDrillsAndIdentity(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		s := store.New(storetest.MustOpen(t, d))
		dr := lifecycle.Drill{ID: "dr1", InstanceID: "in1", BackupID: "bk1", ScratchID: "drill-1", StartedAt: t0}
		if err := s.CreateDrill(ctx, dr); err != nil {
			t.Fatal(err)
		}
		if run, err := s.DrillRunning(ctx, "drill-1", t0.Add(-time.Hour)); err != nil || !run {
			t.Fatalf("running drill not seen: %v %v", run, err)
		}
		if run, _ := s.DrillRunning(ctx, "drill-1", t0.Add(time.Hour)); run {
			t.Fatal("a drill older than the cut-off counts as running")
		}
		fin := t0.Add(time.Minute)
		dr.FinishedAt, dr.OK, dr.Tables, dr.Rows, dr.Blobs = &fin, true, 12, 3400, 7
		if err := s.FinishDrill(ctx, dr, lifecycle.Event{}); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListDrills(ctx, "in1", 10)
		if err != nil || len(list) != 1 {
			t.Fatalf("drills = %+v, %v", list, err)
		}
		if diff := cmp.Diff(dr, list[0]); diff != "" {
			t.Fatalf("drill (-want +got):\n%s", diff)
		}
		if run, _ := s.DrillRunning(ctx, "drill-1", t0.Add(-time.Hour)); run {
			t.Fatal("a finished drill counts as running")
		}
		if _, err := s.BackupIdentity(ctx); !errors.Is(err, lifecycle.ErrNotFound) {
			t.Fatalf("identity before the first: %v", err)
		}
		if err := s.PutBackupIdentity(ctx, []byte("sealed-1")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutBackupIdentity(ctx, []byte("sealed-2")); !errors.Is(err, lifecycle.ErrConflict) {
			t.Fatalf("second identity: %v, want ErrConflict", err)
		}
		if got, _ := s.BackupIdentity(ctx); string(got) != "sealed-1" {
			t.Fatalf("identity %q, want the first", got)
		}
	})
}
