package backups_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/control"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/platform/testkit/poll"
	"github.com/sproudstack/sproudchat/provisioning"
)

// TestDrill: a drill restores the newest backup into a scratch instance that is in no
// instance row, checks it, records success with what it compared and an event, and
// destroys the scratch instance; garbage collection during the drill leaves the
// scratch instance alone. A drill whose restore fails is recorded failed, and its
// scratch instance is destroyed too.
func TestDrill(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("acme", "starter")
	e.tools.set(id, data("drilled data", "one", "two"))
	b := e.backup(id)
	gc := control.NewGC(e.store, e.rt, control.GCOptions{Clock: e.clock, DataGrace: time.Nanosecond})
	var scratch string
	e.tools.Hook = func(sid string, args []string) error {
		if strings.HasPrefix(sid, "drill-") && args[0] == "restore" && args[1] == "--from" {
			scratch = sid
			if _, err := gc.Collect(ctx, true); err != nil {
				t.Error(err)
			}
			if e.rt.Calls("DestroyApp")+e.rt.Calls("Destroy") > 0 {
				t.Error("garbage collection during the drill removed (some of) the scratch instance")
			}
			if _, err := e.store.FindInstance(ctx, sid); !errors.Is(err, lifecycle.ErrNotFound) {
				t.Errorf("the scratch instance is in the instances table: %v", err)
			}
		}
		return nil
	}
	d, err := e.svc.Drill(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !d.OK || d.BackupID != b.ID || d.Tables != 2 || d.Rows != int64(len("drilled data"))+1 || d.Blobs != 2 || d.FinishedAt == nil {
		t.Errorf("drill = %+v; want passed with 2 tables, %d rows, 2 blobs", d, len("drilled data")+1)
	}
	if scratch == "" || scratch != d.ScratchID {
		t.Fatalf("scratch instance %q, drill says %q", scratch, d.ScratchID)
	}
	if _, err := e.rt.Status(ctx, scratch); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("scratch instance left after the drill: %v", err)
	}

	// A failing drill: the tool refuses the backup.
	e.clock.Advance(time.Hour)
	e.tools.Hook = func(sid string, args []string) error {
		if strings.HasPrefix(sid, "drill-") && args[0] == "restore" && args[1] == "--from" {
			scratch = sid
			return &provisioning.ToolError{Args: args, Code: 1, Stderr: "integrity check failed"}
		}
		return nil
	}
	d2, err := e.svc.Drill(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d2.OK || !strings.Contains(d2.Error, "integrity check failed") {
		t.Errorf("failing drill = %+v; want failed with the tool's message", d2)
	}
	if _, err := e.rt.Status(ctx, scratch); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("scratch instance left after the failed drill: %v", err)
	}
	list, err := e.svc.Drills(ctx, id, 10)
	if err != nil || len(list) != 2 || list[0].OK || !list[1].OK {
		t.Fatalf("drills = %+v, %v; want the failed one then the passed one", list, err)
	}
	if n := count(e.events(id), lifecycle.EventDrillCompleted); n != 2 {
		t.Errorf("%d backup.drill_completed events, want 2", n)
	}
	stats, _ := e.svc.Stats(ctx)
	if len(stats) != 1 || stats[0].LastDrillOK == nil || *stats[0].LastDrillOK {
		t.Errorf("stats = %+v; want the last drill failed", stats)
	}
}

// TestDrillsWeekly: a round drills up to the sample of instances with a completed
// backup, least recently drilled first; the next round comes a week later; a drill a
// killed process left unfinished is closed as failed and its scratch destroyed.
func TestDrillsWeekly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var ids []string
	for _, slug := range []string{"one", "two", "three", "four"} {
		id := e.create(slug, "starter")
		e.backup(id)
		ids = append(ids, id)
	}
	e.create("never-backed-up", "starter")
	n, err := e.svc.DrillDue(ctx)
	if err != nil || n != 3 {
		t.Fatalf("first round: %d drills, %v; want 3", n, err)
	}
	e.clock.Advance(lifecycle.DrillEvery - time.Minute)
	if n, _ := e.svc.DrillDue(ctx); n != 0 {
		t.Fatalf("%d drills before a week passed", n)
	}
	e.clock.Advance(time.Minute)
	if n, _ := e.svc.DrillDue(ctx); n != 3 {
		t.Fatalf("second round: %d drills, want 3", n)
	}
	drilled := map[string]int{}
	all, _ := e.svc.Drills(ctx, "", 0)
	for _, d := range all {
		drilled[d.InstanceID]++
	}
	for _, id := range ids {
		if drilled[id] == 0 {
			t.Errorf("%s never drilled in two rounds (least recently drilled first)", id)
		}
	}

	// A drill left unfinished by a killed process.
	if _, err := e.rt.Apply(ctx, provisioning.Spec{ID: "drill-dead", Slug: "drill-dead", Mode: provisioning.ModeActive, BaseURL: "http://x",
		Database: provisioning.DatabaseSpec{Kind: provisioning.SQLite}}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateDrill(ctx, lifecycle.Drill{ID: "drdead", InstanceID: ids[0], BackupID: "bk", ScratchID: "drill-dead", StartedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(lifecycle.DrillTimeout)
	if _, err := e.svc.DrillDue(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.Status(ctx, "drill-dead"); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("the dead drill's scratch instance is left: %v", err)
	}
	left, _ := e.store.UnfinishedDrills(ctx)
	if len(left) != 0 {
		t.Errorf("unfinished drills left: %+v", left)
	}
}

// TestStartDrill: an operator's drill is recorded at once and runs on under the
// worker's context to a result; without a running worker, for an instance without a
// completed backup, or while another drill runs, it is refused and records nothing.
func TestStartDrill(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("acme", "starter")
	e.tools.set(id, data("drilled data", "one"))
	if _, err := e.svc.StartDrill(ctx, id); !errors.Is(err, lifecycle.ErrConflict) {
		t.Fatalf("a drill without a completed backup: %v, want ErrConflict", err)
	}
	b := e.backup(id)
	if _, err := e.svc.StartDrill(ctx, id); !errors.Is(err, lifecycle.ErrConflict) {
		t.Fatalf("a drill without a running worker: %v, want ErrConflict", err)
	}
	if _, err := e.svc.StartDrill(ctx, "in-nope"); !errors.Is(err, lifecycle.ErrNotFound) {
		t.Fatalf("a drill of an unknown instance: %v, want ErrNotFound", err)
	}
	if list, _ := e.svc.Drills(ctx, id, 10); len(list) != 0 {
		t.Fatalf("refused drills were recorded: %+v", list)
	}

	wctx, stop := context.WithCancel(ctx)
	worker := make(chan struct{})
	go func() { e.svc.Run(wctx); close(worker) }()
	defer func() { stop(); <-worker }()
	release := make(chan struct{})
	e.tools.Hook = func(sid string, args []string) error {
		if strings.HasPrefix(sid, "drill-") && args[0] == "restore" && args[1] == "--from" {
			<-release
		}
		return nil
	}
	var d lifecycle.Drill
	poll.Eventually(t, "the worker to take drills", func() bool {
		var err error
		d, err = e.svc.StartDrill(ctx, id)
		return err == nil
	})
	if d.BackupID != b.ID || d.FinishedAt != nil {
		t.Fatalf("started drill = %+v, want unfinished, of %s", d, b.ID)
	}
	if _, err := e.svc.StartDrill(ctx, id); !errors.Is(err, lifecycle.ErrConflict) {
		t.Errorf("a second drill while one runs: %v, want ErrConflict", err)
	}
	close(release)
	poll.Eventually(t, "the drill to pass", func() bool {
		list, err := e.svc.Drills(ctx, id, 10)
		return err == nil && len(list) == 1 && list[0].ID == d.ID && list[0].FinishedAt != nil && list[0].OK
	})
}
