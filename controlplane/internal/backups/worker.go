package backups

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lease"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/provisioning"
)

// backoff is how long a backup waits after its nth failure: a minute, doubling, at
// most an hour (a target down for a while is the usual cause).
func backoff(n int) time.Duration {
	return min(time.Minute<<min(max(n-1, 0), 6), time.Hour)
}

// deferBy is how long a backup waits for an instance that is between states with no
// data to read (being created): not a failure.
const deferBy = time.Minute

// Run works pending backups until ctx ends; on start it takes again every backup a
// killed process left running (its lease lapses).
func (s *Service) Run(ctx context.Context) {
	s.life.Store(&ctx)
	defer s.life.Store(nil)
	for {
		for {
			worked, err := s.Step(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "backup step", "error", err.Error())
			}
			if !worked || ctx.Err() != nil {
				break
			}
		}
		sleep := s.opts.Poll
		if due, ok, err := s.opts.Store.NextBackupDue(ctx); err == nil && ok {
			if d := due.Sub(s.opts.Clock.Now()); d < sleep {
				sleep = max(d, 10*time.Millisecond)
			}
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.nudge:
		case <-t.C:
		}
		t.Stop()
	}
}

// Step claims one due backup and takes it. Returns false when nothing was due.
func (s *Service) Step(ctx context.Context) (bool, error) {
	b, ok, err := s.opts.Store.ClaimBackup(ctx, s.opts.Owner, s.opts.Clock.Now(), s.opts.LeaseTTL)
	if err != nil || !ok {
		return false, err
	}
	wctx, cancel := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() { s.renew(wctx, cancel, b.ID); close(renewed) }()
	defer func() { cancel(); <-renewed }()
	err = s.work(wctx, b)
	if errors.Is(err, lifecycle.ErrLeaseLost) {
		s.log.WarnContext(ctx, "backup lease lost", "backup_id", b.ID, "instance_id", b.InstanceID)
		return true, nil
	}
	return true, err
}

// renew keeps the lease while the backup runs and cancels it if the lease is lost.
func (s *Service) renew(ctx context.Context, cancel context.CancelFunc, id string) {
	lease.Keep(ctx, cancel, s.opts.LeaseTTL, func(ctx context.Context) error {
		return s.opts.Store.RenewBackupLease(ctx, id, s.opts.Owner, s.opts.Clock.Now().Add(s.opts.LeaseTTL))
	}, func(err error) { s.log.WarnContext(ctx, "renew backup lease", "backup_id", id, "error", err.Error()) })
}

// work takes one claimed backup and records how it went.
func (s *Service) work(ctx context.Context, b lifecycle.Backup) error {
	inst, err := s.opts.Store.FindInstance(ctx, b.InstanceID)
	if errors.Is(err, lifecycle.ErrNotFound) || err == nil && (inst.State == lifecycle.Destroyed || inst.State == lifecycle.Destroying) {
		return s.fail(ctx, b, inst, fmt.Errorf("instance %s is gone", b.InstanceID), true)
	}
	if err != nil {
		return err
	}
	if !backedUp(inst.State) || inst.State == lifecycle.Restoring {
		// Nothing to read yet, or its data is being replaced: wait, without counting it.
		b.State, b.NextAttempt = lifecycle.BackupPending, s.opts.Clock.Now().Add(deferBy)
		return s.opts.Store.UpdateBackup(ctx, b, s.opts.Owner, lifecycle.Event{})
	}
	now := s.opts.Clock.Now()
	b.StartedAt = &now
	res, err := s.take(ctx, inst, b)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down or lease lost: the next claim takes it again
		}
		return s.fail(ctx, b, inst, err, false)
	}
	done := s.opts.Clock.Now()
	b.State, b.CompletedAt, b.SizeBytes, b.AddedBytes, b.LastError = lifecycle.BackupCompleted, &done, res.SizeBytes, res.AddedBytes, ""
	ev := s.event(inst, lifecycle.EventBackupCompleted, done, fmt.Sprintf("backup %s: %d bytes stored, %d added", b.ID, res.SizeBytes, res.AddedBytes))
	err = s.opts.Store.UpdateBackup(ctx, b, s.opts.Owner, ev)
	if errors.Is(err, lifecycle.ErrLeaseLost) {
		return s.orphaned(ctx, b, err)
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "backup completed", "instance_id", inst.ID, "backup_id", b.ID, "size_bytes", res.SizeBytes,
		"added_bytes", res.AddedBytes, "took_ms", done.Sub(now).Milliseconds())
	return nil
}

// orphaned handles a backup whose row went while it ran (purged, expired): what it
// stored must not outlive the row.
func (s *Service) orphaned(ctx context.Context, b lifecycle.Backup, lost error) error {
	if _, err := s.opts.Store.FindBackup(ctx, b.ID); !errors.Is(err, lifecycle.ErrNotFound) {
		return lost // another worker has it
	}
	left, err := s.opts.Store.ListBackups(ctx, b.InstanceID)
	if err != nil {
		return err
	}
	if len(left) == 0 {
		return s.opts.Vault.Purge(ctx, b.InstanceID)
	}
	if err := s.opts.Vault.Delete(ctx, b.InstanceID, b.ID); err != nil {
		return err
	}
	_, _, err = s.opts.Vault.Collect(ctx, b.InstanceID)
	return err
}

// fail records a failed attempt: retried with backoff, failed for good (event
// backup.failed) after MaxAttempts or when final.
func (s *Service) fail(ctx context.Context, b lifecycle.Backup, inst lifecycle.Instance, cause error, final bool) error {
	now := s.opts.Clock.Now()
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	b.Attempts++
	b.LastError = msg
	var ev lifecycle.Event
	if final || b.Attempts >= s.opts.MaxAttempts {
		b.State = lifecycle.BackupFailed
		if inst.ID != "" {
			ev = s.event(inst, lifecycle.EventBackupFailed, now, fmt.Sprintf("backup %s: %s", b.ID, msg))
		}
		s.log.ErrorContext(ctx, "backup failed", "instance_id", b.InstanceID, "backup_id", b.ID, "attempts", b.Attempts, "error", msg)
	} else {
		b.State, b.NextAttempt = lifecycle.BackupPending, now.Add(backoff(b.Attempts))
		s.log.WarnContext(ctx, "backup attempt failed", "instance_id", b.InstanceID, "backup_id", b.ID, "attempt", b.Attempts, "error", msg)
	}
	return s.opts.Store.UpdateBackup(ctx, b, s.opts.Owner, ev)
}

// event is an event of inst with its webhook payload.
func (s *Service) event(inst lifecycle.Instance, typ string, at time.Time, reason string) lifecycle.Event {
	ev := lifecycle.Event{InstanceID: inst.ID, Type: typ, At: at, Actor: "backups", Reason: reason, FromState: inst.State, ToState: inst.State}
	ev.Payload = s.opts.Specs.Payload(ev, inst)
	return ev
}

// mode is the mode the instance's spec is rendered in for its tools.
func mode(inst lifecycle.Instance) provisioning.Mode {
	if inst.State == lifecycle.Suspended || inst.Desired == lifecycle.WantSuspended || inst.RestoreFrom == lifecycle.Suspended {
		return provisioning.ModeReadOnly
	}
	return provisioning.ModeActive
}

// take runs `sproudchat backup` against the instance's data and streams its snapshot
// into the vault; blobs the previous completed backup holds are not sent again.
func (s *Service) take(ctx context.Context, inst lifecycle.Instance, b lifecycle.Backup) (vault.Result, error) {
	spec, err := s.opts.Specs.Spec(ctx, inst, mode(inst))
	if err != nil {
		return vault.Result{}, fmt.Errorf("render spec: %w", err)
	}
	prevID, known := s.previous(ctx, inst.ID, b.ID)
	args := []string{"backup", "--to", "-"}
	var stdin io.Reader
	if len(known) > 0 {
		args = append(args, "--known", "-")
		stdin = strings.NewReader(strings.Join(known, "\n") + "\n")
	}
	src := vault.Source{InstanceID: inst.ID, Slug: inst.Slug, Plan: inst.Plan, CustomerID: inst.CustomerID, Secrets: spec.Secrets}
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	toolDone := make(chan error, 1)
	go func() {
		err := s.opts.Tools.RunTool(tctx, spec, args, stdin, pw)
		pw.CloseWithError(err) // nil: the reader sees EOF
		toolDone <- err
	}()
	res, werr := s.opts.Vault.Write(ctx, src, b.ID, prevID, pr)
	if werr != nil {
		cancel() // stop the tool: nobody reads what it writes
	}
	pr.CloseWithError(errors.New("the vault stopped reading"))
	terr := <-toolDone
	switch {
	case terr != nil && werr != nil:
		return vault.Result{}, fmt.Errorf("sproudchat backup: %w (vault: %v)", terr, werr)
	case terr != nil:
		return vault.Result{}, fmt.Errorf("sproudchat backup: %w", terr)
	case werr != nil:
		return vault.Result{}, fmt.Errorf("store backup: %w", werr)
	}
	return res, nil
}

// previous is the newest completed backup of the instance and the blobs it holds; ""
// and none when there is none or it cannot be read (everything is sent again).
func (s *Service) previous(ctx context.Context, instanceID, except string) (string, []string) {
	list, err := s.opts.Store.ListBackups(ctx, instanceID)
	if err != nil {
		return "", nil
	}
	for _, p := range list {
		if p.ID == except || p.State != lifecycle.BackupCompleted {
			continue
		}
		known, err := s.opts.Vault.Known(ctx, instanceID, p.ID)
		if err != nil {
			s.log.WarnContext(ctx, "previous backup unreadable; sending every blob", "instance_id", instanceID, "backup_id", p.ID, "error", err.Error())
			return "", nil
		}
		return p.ID, known
	}
	return "", nil
}
