package backups

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/provisioning"
)

// Drills returns the latest drills, newest first, of one instance ("" for all).
func (s *Service) Drills(ctx context.Context, instanceID string, limit int) ([]lifecycle.Drill, error) {
	if instanceID != "" {
		if _, err := s.opts.Store.FindInstance(ctx, instanceID); err != nil {
			return nil, err
		}
	}
	return s.opts.Store.ListDrills(ctx, instanceID, limit)
}

// DrillDue runs a round of drills when none started for lifecycle.DrillEvery: the
// newest completed backup of up to DrillSample instances, those drilled least
// recently first. It first gives up drills a killed process left unfinished. Returns
// how many drills it ran.
func (s *Service) DrillDue(ctx context.Context) (int, error) {
	if !s.drilling.CompareAndSwap(false, true) {
		return 0, nil // a round runs already
	}
	defer s.drilling.Store(false)
	if err := s.abandon(ctx); err != nil {
		return 0, err
	}
	now := s.opts.Clock.Now()
	last, err := s.opts.Store.ListDrills(ctx, "", 1)
	if err != nil {
		return 0, err
	}
	if len(last) > 0 && now.Sub(last[0].StartedAt) < lifecycle.DrillEvery {
		return 0, nil
	}
	sums, err := s.opts.Store.BackupSummaries(ctx)
	if err != nil {
		return 0, err
	}
	var cands []lifecycle.BackupSummary
	for _, x := range sums {
		if x.LastSuccess != nil {
			cands = append(cands, x)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i].LastDrillAt, cands[j].LastDrillAt
		return a == nil && b != nil || a != nil && b != nil && a.Before(*b)
	})
	n := 0
	for _, x := range cands[:min(len(cands), s.opts.DrillSample)] {
		if _, err := s.Drill(ctx, x.InstanceID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// abandon finishes, as failed, every drill unfinished for longer than
// lifecycle.DrillTimeout (its process died), and destroys its scratch instance.
func (s *Service) abandon(ctx context.Context) error {
	list, err := s.opts.Store.UnfinishedDrills(ctx)
	if err != nil {
		return err
	}
	now := s.opts.Clock.Now()
	for _, d := range list {
		if now.Sub(d.StartedAt) < lifecycle.DrillTimeout {
			continue
		}
		if err := s.opts.Runtime.Destroy(ctx, d.ScratchID); err != nil {
			return fmt.Errorf("destroy scratch instance %s: %w", d.ScratchID, err)
		}
		d.FinishedAt, d.OK, d.Error = &now, false, "interrupted: the drill did not finish"
		if err := s.opts.Store.FinishDrill(ctx, d, s.drillEvent(ctx, d, now)); err != nil {
			return err
		}
	}
	return nil
}

// Drill restores the newest completed backup of instance id into a scratch instance
// (never in the instances table, never routed), checks what the restore reports
// against the manifest (tables, rows, blobs: the tool itself checked every hash, the
// integrity of the database and every row count), starts it until ready, and destroys
// it whatever happened. The result is recorded (event backup.drill_completed) and
// returned; the error is only for what kept it from being recorded.
func (s *Service) Drill(ctx context.Context, instanceID string) (lifecycle.Drill, error) {
	inst, b, d, err := s.startDrill(ctx, instanceID)
	if err != nil {
		return d, err
	}
	return s.finishDrill(ctx, inst, b, d)
}

// StartDrill starts a drill of instance id now (an operator's "sproudctl backup
// drill") and returns it as recorded, unfinished; it runs on in the background until
// the worker's context (Run's) ends: Drills shows its result. A drill round or another
// drill running in this process is lifecycle.ErrConflict; an instance without a
// completed backup too.
func (s *Service) StartDrill(ctx context.Context, instanceID string) (lifecycle.Drill, error) {
	if _, err := s.opts.Store.FindInstance(ctx, instanceID); err != nil {
		return lifecycle.Drill{}, err
	}
	life := s.life.Load()
	if life == nil {
		return lifecycle.Drill{}, fmt.Errorf("%w: the backup worker is not running", lifecycle.ErrConflict)
	}
	if !s.drilling.CompareAndSwap(false, true) {
		return lifecycle.Drill{}, fmt.Errorf("%w: a restore drill runs already", lifecycle.ErrConflict)
	}
	inst, b, d, err := s.startDrill(ctx, instanceID)
	if err != nil {
		s.drilling.Store(false)
		return d, err
	}
	go func() {
		defer s.drilling.Store(false)
		if _, err := s.finishDrill(*life, inst, b, d); err != nil && (*life).Err() == nil {
			s.log.ErrorContext(*life, "restore drill", "instance_id", inst.ID, "drill_id", d.ID, "error", err.Error())
		}
	}()
	return d, nil
}

// startDrill picks the newest completed backup of instance id and records a drill of it.
func (s *Service) startDrill(ctx context.Context, instanceID string) (lifecycle.Instance, lifecycle.Backup, lifecycle.Drill, error) {
	inst, err := s.opts.Store.FindInstance(ctx, instanceID)
	if err != nil {
		return inst, lifecycle.Backup{}, lifecycle.Drill{}, err
	}
	list, err := s.opts.Store.ListBackups(ctx, inst.ID)
	if err != nil {
		return inst, lifecycle.Backup{}, lifecycle.Drill{}, err
	}
	var b *lifecycle.Backup
	for i := range list {
		if list[i].State == lifecycle.BackupCompleted {
			b = &list[i]
			break
		}
	}
	if b == nil {
		return inst, lifecycle.Backup{}, lifecycle.Drill{}, fmt.Errorf("%w: instance %s has no completed backup", lifecycle.ErrConflict, inst.ID)
	}
	now := s.opts.Clock.Now()
	d := lifecycle.Drill{ID: "dr" + newID(now)[2:], InstanceID: inst.ID, BackupID: b.ID, ScratchID: "drill-" + secret.Random(6), StartedAt: now}
	if err := s.opts.Store.CreateDrill(ctx, d); err != nil {
		return inst, *b, lifecycle.Drill{}, err
	}
	return inst, *b, d, nil
}

// finishDrill runs drill d (of backup b of inst) and records its result.
func (s *Service) finishDrill(ctx context.Context, inst lifecycle.Instance, b lifecycle.Backup, d lifecycle.Drill) (lifecycle.Drill, error) {
	now, scratch := d.StartedAt, d.ScratchID
	dctx, cancel := context.WithTimeout(ctx, lifecycle.DrillTimeout)
	sum, derr := s.rehearse(dctx, inst, b, scratch)
	cancel()
	// Always: the scratch instance goes, whatever the drill did (or shutdown cut).
	if err := s.opts.Runtime.Destroy(context.WithoutCancel(ctx), scratch); err != nil && derr == nil {
		derr = fmt.Errorf("destroy scratch instance: %w", err)
	}
	if ctx.Err() != nil {
		return d, ctx.Err() // left unfinished: the next round abandons it
	}
	fin := s.opts.Clock.Now()
	d.FinishedAt, d.OK, d.Tables, d.Rows, d.Blobs = &fin, derr == nil, sum.Tables, sum.Rows, sum.Blobs
	if derr != nil {
		d.Error = derr.Error()
		if len(d.Error) > 2000 {
			d.Error = d.Error[:2000]
		}
	}
	if err := s.opts.Store.FinishDrill(ctx, d, s.drillEvent(ctx, d, fin)); err != nil {
		return d, err
	}
	s.log.InfoContext(ctx, "restore drill", "instance_id", inst.ID, "backup_id", b.ID, "ok", d.OK, "error", d.Error,
		"tables", d.Tables, "rows", d.Rows, "blobs", d.Blobs, "took_ms", fin.Sub(now).Milliseconds())
	return d, nil
}

func (s *Service) drillEvent(ctx context.Context, d lifecycle.Drill, at time.Time) lifecycle.Event {
	reason := fmt.Sprintf("drill of backup %s passed: %d tables, %d rows, %d blobs", d.BackupID, d.Tables, d.Rows, d.Blobs)
	if !d.OK {
		reason = fmt.Sprintf("drill of backup %s failed: %s", d.BackupID, d.Error)
	}
	inst, err := s.opts.Store.FindInstance(ctx, d.InstanceID)
	if err != nil {
		return lifecycle.Event{InstanceID: d.InstanceID, Type: lifecycle.EventDrillCompleted, At: at, Actor: "backups", Reason: reason}
	}
	return s.event(inst, lifecycle.EventDrillCompleted, at, reason)
}

// rehearse makes the scratch instance, restores b into it and checks it.
func (s *Service) rehearse(ctx context.Context, inst lifecycle.Instance, b lifecycle.Backup, scratch string) (Summary, error) {
	m, err := s.opts.Vault.Manifest(ctx, b.InstanceID, b.ID)
	if err != nil {
		return Summary{}, fmt.Errorf("open backup: %w", err)
	}
	plan := m.Plan
	if plan == "" {
		plan = inst.Plan
	}
	sc := lifecycle.Instance{ID: scratch, Slug: scratch, Plan: plan, CustomerID: inst.CustomerID}
	spec, err := s.opts.Specs.ScratchSpec(sc, lifecycle.Secrets{SecretKey: m.Secrets["SPROUDCHAT_SECRET_KEY"], SetupToken: secret.Random(24)},
		provisioning.ModeActive)
	if err != nil {
		return Summary{}, fmt.Errorf("render scratch spec: %w", err)
	}
	// Apply first: the runtime makes the scratch instance's data dir or volume.
	if _, err := s.opts.Runtime.Apply(ctx, spec); err != nil {
		return Summary{}, fmt.Errorf("create scratch instance: %w", err)
	}
	if err := s.opts.Tools.StopApp(ctx, scratch); err != nil {
		return Summary{}, fmt.Errorf("stop scratch app: %w", err)
	}
	read, sum, err := s.stream(ctx, b, spec)
	if err != nil {
		return Summary{}, err
	}
	if err := compare(read, sum); err != nil {
		return sum, err
	}
	if _, err := s.opts.Runtime.Apply(ctx, spec); err != nil {
		return sum, fmt.Errorf("start with the restored data: %w", err)
	}
	if err := s.opts.Tools.RunTool(ctx, spec, []string{"restore", "--commit"}, nil, io.Discard); err != nil {
		return sum, fmt.Errorf("commit restore: %w", err)
	}
	return sum, nil
}

// compare checks what the restore reports against the manifest's snapshot header.
func compare(m vault.Manifest, sum Summary) error {
	var rows int64
	for _, n := range m.Snapshot.Rows {
		rows += n
	}
	if sum.Tables != len(m.Snapshot.Rows) || sum.Rows != rows || sum.Blobs != len(m.Snapshot.Blobs) {
		return fmt.Errorf("restored %d tables, %d rows, %d blobs; the manifest lists %d, %d, %d",
			sum.Tables, sum.Rows, sum.Blobs, len(m.Snapshot.Rows), rows, len(m.Snapshot.Blobs))
	}
	return nil
}
