package backups_test

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/controlplane/internal/backups"
	"github.com/sproudstack/sproudchat/controlplane/internal/control"
	"github.com/sproudstack/sproudchat/controlplane/internal/jobs"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/store/storetest"
)

const day = 24 * time.Hour

// TestRetention89To91Days: a backup is kept for 89 days, gone at 90 (at the target and
// in the store), and the objects only it referenced are collected; the objects a later
// backup shares stay.
func TestRetention89To91Days(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newEnvOn(t, storetest.MustOpen(t, d))
		ctx := context.Background()
		id := e.create("acme", "starter")
		e.tools.set(id, data("v1", "kept attachment", "deleted attachment"))
		first := e.backup(id)
		if got, want := first.ExpiresAt, first.CreatedAt.AddDate(0, 0, 90); !got.Equal(want) {
			t.Fatalf("expires at %v, want %v", got, want)
		}
		e.clock.Advance(2 * day)
		e.tools.set(id, data("v2", "kept attachment"))
		second := e.backup(id)
		onlyFirst := ckey(id, sum([]byte("deleted attachment")))
		shared := ckey(id, sum([]byte("kept attachment")))

		ids := func() []string {
			list, err := e.svc.List(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, b := range list {
				out = append(out, b.ID)
			}
			return out
		}
		for _, step := range []struct {
			at           int // days after the first backup
			want         []string
			firstObjects bool
		}{
			{89, []string{second.ID, first.ID}, true},
			{90, []string{second.ID}, false},
			{91, []string{second.ID}, false},
		} {
			e.clock.Advance(first.CreatedAt.Add(time.Duration(step.at) * day).Sub(e.clock.Now()))
			if _, err := e.svc.Expire(ctx); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(step.want, ids()); diff != "" {
				t.Errorf("day %d: backups (-want +got):\n%s", step.at, diff)
			}
			keys := strings.Join(e.vault.Keys(id), " ")
			if has := strings.Contains(keys, mkey(id, first.ID)); has != step.firstObjects {
				t.Errorf("day %d: first manifest at the target: %v, want %v", step.at, has, step.firstObjects)
			}
			if has := strings.Contains(keys, onlyFirst); has != step.firstObjects {
				t.Errorf("day %d: the object only the first backup referenced at the target: %v, want %v", step.at, has, step.firstObjects)
			}
			if !strings.Contains(keys, shared) || !strings.Contains(keys, mkey(id, second.ID)) {
				t.Errorf("day %d: the second backup lost objects: %s", step.at, keys)
			}
		}
	})
}

// TestRetentionCappedAt90Days: a plan asking for more than 90 days gets 90; one asking
// for fewer gets its own.
func TestRetentionCappedAt90Days(t *testing.T) {
	e := newEnv(t)
	for plan, days := range map[string]int{"long": 90, "short": 30, "starter": 90} {
		t.Run(plan, func(t *testing.T) {
			b := e.backup(e.create("acme-"+plan, plan))
			if got := b.ExpiresAt.Sub(b.CreatedAt); got != time.Duration(days)*day {
				t.Errorf("plan %s: kept %v, want %d days", plan, got, days)
			}
		})
	}
}

// TestDailyScheduleOnePerDayAtTheSlot: over three days, with two schedulers (two
// processes) ticking every five minutes, every active and suspended instance gets
// exactly one scheduled backup a day, made within a tick of its slot; a destroyed one
// none.
func TestDailyScheduleOnePerDayAtTheSlot(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newEnvOn(t, storetest.MustOpen(t, d))
		ctx := context.Background()
		active := e.create("active-one", "starter")
		suspended := e.create("suspended-one", "starter")
		destroyed := e.create("destroyed-one", "starter")
		if _, err := e.ctl.Suspend(ctx, suspended, "unpaid", "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ctl.Destroy(ctx, destroyed, "", "test"); err != nil {
			t.Fatal(err)
		}
		e.drain()
		if st := e.instance(suspended).State; st != lifecycle.Suspended {
			t.Fatalf("suspended instance is %s", st)
		}
		other := e.service("w2")
		start := e.clock.Now() // midnight: the instances were made at t0
		if !start.Equal(start.Truncate(day)) {
			t.Fatalf("the test starts at %v, not at midnight", start)
		}
		const tick = 5 * time.Minute
		for e.clock.Now().Before(start.Add(3 * day)) {
			for _, s := range []*backups.Service{e.svc, other} {
				if _, err := s.ScheduleDue(ctx); err != nil {
					t.Fatal(err)
				}
			}
			e.clock.Advance(tick)
		}
		for _, id := range []string{active, suspended, destroyed} {
			list, err := e.store.ListBackups(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want := 3
			if id == destroyed {
				want = 0
			}
			if len(list) != want {
				t.Errorf("%s: %d scheduled backups in 3 days, want %d", id, len(list), want)
			}
			perDay := map[time.Time]int{}
			for _, b := range list {
				slot := b.CreatedAt.Truncate(day).Add(backups.Slot(id))
				if b.Trigger != lifecycle.TriggerSchedule || b.CreatedAt.Before(slot) || !b.CreatedAt.Before(slot.Add(tick)) {
					t.Errorf("%s: backup %s (%s) made at %v; its slot is %v", id, b.ID, b.Trigger, b.CreatedAt, slot)
				}
				perDay[b.CreatedAt.Truncate(day)]++
			}
			for d, n := range perDay {
				if n != 1 {
					t.Errorf("%s: %d backups on %v", id, n, d)
				}
			}
		}
		// The suspended instance's backups run (read-only spec), like the active one's.
		e.tools.set(suspended, data("s1"))
		e.clock.Advance(time.Hour)
		e.work()
		list, _ := e.store.ListBackups(ctx, suspended)
		if list[0].State != lifecycle.BackupCompleted {
			t.Errorf("suspended instance's scheduled backup is %s: %s", list[0].State, list[0].LastError)
		}
	})
}

// TestFailedBackupRetriedThenFailed: a target that stays down: the backup is retried
// with a growing backoff, then failed with backup.failed; it is never listed as
// completed. A target that comes back: the retry completes.
func TestFailedBackupRetriedThenFailed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("acme", "starter")
	e.vault.WriteErr = func() error { return errTarget }
	b, err := e.svc.Create(ctx, id, "test")
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	for i := 0; i < 3; i++ {
		e.work()
		got, _ := e.store.FindBackup(ctx, b.ID)
		if got.State == lifecycle.BackupCompleted {
			t.Fatal("a backup that never reached the target is completed")
		}
		if got.State == lifecycle.BackupFailed {
			break
		}
		if got.Attempts != i+1 || !strings.Contains(got.LastError, errTarget.Error()) {
			t.Fatalf("after failure %d: attempts %d, error %q", i+1, got.Attempts, got.LastError)
		}
		wait := got.NextAttempt.Sub(e.clock.Now())
		waits = append(waits, wait)
		e.clock.Advance(wait - time.Second)
		e.work()
		if again, _ := e.store.FindBackup(ctx, b.ID); again.Attempts != got.Attempts {
			t.Fatal("retried before its backoff")
		}
		e.clock.Advance(time.Second)
	}
	got, _ := e.store.FindBackup(ctx, b.ID)
	if got.State != lifecycle.BackupFailed || got.Attempts != 3 {
		t.Fatalf("after 3 failures: %s with %d attempts, want failed with 3", got.State, got.Attempts)
	}
	if len(waits) != 2 || waits[1] <= waits[0] {
		t.Errorf("backoffs %v: want two, growing", waits)
	}
	if n := count(e.events(id), lifecycle.EventBackupFailed); n != 1 {
		t.Errorf("%d backup.failed events, want 1", n)
	}
	if len(e.vault.Keys(id)) != 0 {
		t.Errorf("objects at the target after a failed backup: %v", e.vault.Keys(id))
	}
	// The target comes back: a new backup completes after one failed attempt.
	fails := 1
	e.vault.WriteErr = func() error {
		if fails > 0 {
			fails--
			return errTarget
		}
		return nil
	}
	b2, _ := e.svc.Create(ctx, id, "test")
	e.work()
	e.clock.Advance(time.Hour)
	e.work()
	if got, _ := e.store.FindBackup(ctx, b2.ID); got.State != lifecycle.BackupCompleted || got.Attempts != 1 {
		t.Fatalf("backup after the target came back: %s, %d attempts", got.State, got.Attempts)
	}
	if n := count(e.events(id), lifecycle.EventBackupCompleted); n != 1 {
		t.Errorf("%d backup.completed events, want 1", n)
	}
}

// TestRunningBackupOfKilledServeConverges: a process dies mid-backup (the tool is cut
// off mid-stream; its lease stays): nothing is listed as completed, and after its lease
// lapses the next process takes the backup again from the start and completes it.
func TestRunningBackupOfKilledServeConverges(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newEnvOn(t, storetest.MustOpen(t, d))
		id := e.create("acme", "starter")
		b, err := e.svc.Create(context.Background(), id, "test")
		if err != nil {
			t.Fatal(err)
		}
		ctx, kill := context.WithCancel(context.Background())
		e.tools.Hook = func(_ string, args []string) error {
			if args[0] == "backup" {
				kill() // the process dies as the tool starts
				return context.Canceled
			}
			return nil
		}
		if _, err := e.svc.Step(ctx); err == nil {
			t.Fatal("the killed step reports no error")
		}
		e.tools.Hook = nil
		got, _ := e.store.FindBackup(context.Background(), b.ID)
		if got.State != lifecycle.BackupRunning {
			t.Fatalf("after the kill the backup is %s, want running", got.State)
		}
		next := e.service("w2") // the next start
		if worked, _ := next.Step(context.Background()); worked {
			t.Fatal("the next process took the backup under a live lease")
		}
		list, _ := next.List(context.Background(), id)
		for _, x := range list {
			if x.State == lifecycle.BackupCompleted {
				t.Fatal("an incomplete backup is listed as completed")
			}
		}
		e.clock.Advance(2 * time.Minute)
		if worked, err := next.Step(context.Background()); !worked || err != nil {
			t.Fatalf("the next process did not take the backup again: %v %v", worked, err)
		}
		if got, _ := e.store.FindBackup(context.Background(), b.ID); got.State != lifecycle.BackupCompleted {
			t.Fatalf("backup %s after the next start: %s (%s)", b.ID, got.State, got.LastError)
		}
	})
}

// TestPurgeLeavesNothing: purge removes every object of the instance at the target and
// every backup row.
func TestPurgeLeavesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("acme", "starter")
	other := e.create("other", "starter")
	e.backup(id)
	e.clock.Advance(day)
	e.backup(id)
	e.backup(other)
	n, err := e.svc.Purge(ctx, id, "test")
	if err != nil || n != 2 {
		t.Fatalf("purged %d, %v; want 2", n, err)
	}
	if keys := e.vault.Keys(id); len(keys) != 0 {
		t.Errorf("objects left at the target: %v", keys)
	}
	if list, _ := e.store.ListBackups(ctx, id); len(list) != 0 {
		t.Errorf("%d backup rows left", len(list))
	}
	if list, _ := e.store.ListBackups(ctx, other); len(list) != 1 || len(e.vault.Keys(other)) == 0 {
		t.Error("purge touched another instance's backups")
	}
	if _, err := e.svc.Purge(ctx, "in-unknown", "test"); !errors.Is(err, lifecycle.ErrNotFound) {
		t.Errorf("purge of an unknown instance: %v", err)
	}
}

// TestStaleAfter36HoursOnce: an instance with no successful backup for 36 h is listed
// and raises backup.stale once; a completed backup clears it; 36 h later it is raised
// again.
func TestStaleAfter36HoursOnce(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newEnvOn(t, storetest.MustOpen(t, d))
		ctx := context.Background()
		id := e.create("acme", "starter")
		check := func(when string, wantListed bool, wantEvents int) {
			t.Helper()
			if _, err := e.svc.CheckStale(ctx); err != nil {
				t.Fatal(err)
			}
			list, err := e.svc.Stale(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if listed := len(list) == 1 && list[0].InstanceID == id; listed != wantListed {
				t.Errorf("%s: listed stale %v, want %v", when, listed, wantListed)
			}
			if n := count(e.events(id), lifecycle.EventBackupStale); n != wantEvents {
				t.Errorf("%s: %d backup.stale events, want %d", when, n, wantEvents)
			}
		}
		e.clock.Advance(36*time.Hour - time.Minute)
		check("35h59m after creation", false, 0)
		e.clock.Advance(time.Minute)
		check("36h after creation", true, 1)
		e.clock.Advance(time.Hour)
		check("37h after creation", true, 1)
		e.backup(id)
		check("after a backup", false, 1)
		e.clock.Advance(36 * time.Hour)
		check("36h after the backup", true, 2)
		check("checked again", true, 2)
	})
}

// TestFinalBackupBeforePurge: the purge of a suspended instance past its purge_after
// waits for its final backup.
func TestFinalBackupBeforePurge(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("acme", "starter")
	if _, err := e.ctl.Suspend(ctx, id, "unpaid", "test"); err != nil {
		t.Fatal(err)
	}
	e.drain()
	inst := e.instance(id)
	done, err := e.svc.FinalBackup(ctx, inst)
	if err != nil || done {
		t.Fatalf("first call: done %v, %v; want a backup asked for", done, err)
	}
	if done, _ := e.svc.FinalBackup(ctx, inst); done {
		t.Fatal("done before the final backup ran")
	}
	e.work()
	if done, _ := e.svc.FinalBackup(ctx, inst); !done {
		t.Fatal("not done after the final backup completed")
	}
	list, _ := e.store.ListBackups(ctx, id)
	if len(list) != 1 || list[0].Trigger != lifecycle.TriggerFinal || list[0].State != lifecycle.BackupCompleted {
		t.Fatalf("backups = %+v, want one completed final", list)
	}
}

// TestPurgeJobWaitsForFinalBackup: the purge job destroys a suspended instance past its
// purge_after only once its final backup is done; the backup stays for the rotation.
func TestPurgeJobWaitsForFinalBackup(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("acme", "starter")
	if _, err := e.ctl.Suspend(ctx, id, "unpaid", "billing"); err != nil {
		t.Fatal(err)
	}
	e.drain()
	j := jobs.New(e.store, e.ctl, e.clock, nil).WithFinalBackup(e.svc)
	e.clock.Advance(31 * day)
	if n, err := j.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("purge before the final backup: %d, %v; want 0", n, err)
	}
	if d := e.instance(id).Desired; d == lifecycle.WantDestroyed {
		t.Fatal("destroy asked before the final backup")
	}
	e.work()
	if n, err := j.Purge(ctx); err != nil || n != 1 {
		t.Fatalf("purge after the final backup: %d, %v; want 1", n, err)
	}
	e.drain()
	if st := e.instance(id).State; st != lifecycle.Destroyed {
		t.Fatalf("instance is %s, want destroyed", st)
	}
	list, _ := e.svc.List(ctx, id)
	if len(list) != 1 || list[0].Trigger != lifecycle.TriggerFinal || list[0].State != lifecycle.BackupCompleted {
		t.Fatalf("backups after the purge: %+v; want the final one, kept", list)
	}
	// Destroyed: no new scheduled backups, and a manual one is refused.
	e.clock.Advance(2 * day)
	if n, _ := e.svc.ScheduleDue(ctx); n != 0 {
		t.Errorf("%d backups scheduled for a destroyed instance", n)
	}
	if _, err := e.svc.Create(ctx, id, "test"); !errors.Is(err, lifecycle.ErrConflict) {
		t.Errorf("manual backup of a destroyed instance: %v, want ErrConflict", err)
	}
}

// TestBackupEventsReachWebhooks: backup.completed, backup.failed and instance.restored
// are queued for a webhook subscribed to them.
func TestBackupEventsReachWebhooks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	box, _ := secret.New(make([]byte, 32))
	hooks := control.NewWebhooks(e.store, box, e.clock)
	sub, err := hooks.Create(ctx, lifecycle.WebhookRequest{URL: "https://billing.example/hook",
		Events: []string{lifecycle.EventBackupCompleted, lifecycle.EventBackupFailed, lifecycle.EventRestored}})
	if err != nil {
		t.Fatal(err)
	}
	id := e.create("acme", "starter")
	b := e.backup(id)
	e.vault.WriteErr = func() error { return errTarget }
	f, _ := e.svc.Create(ctx, id, "test")
	for range 3 {
		e.work()
		e.clock.Advance(time.Hour)
	}
	if got, _ := e.store.FindBackup(ctx, f.ID); got.State != lifecycle.BackupFailed {
		t.Fatalf("backup %s is %s, want failed", f.ID, got.State)
	}
	if _, err := e.svc.Restore(ctx, id, b.ID, "test"); err != nil {
		t.Fatal(err)
	}
	e.drain()
	ds, err := hooks.Deliveries(ctx, sub.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, d := range ds {
		var p struct{ Type string }
		json.Unmarshal(d.Payload, &p)
		types = append(types, p.Type)
	}
	sort.Strings(types)
	if diff := cmp.Diff([]string{lifecycle.EventBackupCompleted, lifecycle.EventBackupFailed, lifecycle.EventRestored}, types); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}
