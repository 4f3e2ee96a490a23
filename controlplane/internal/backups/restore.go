package backups

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/provisioning"
)

// Restore asks for instance id's data to be replaced by backup backupID: the instance
// goes to restoring and the reconciler does the work, then returns it to the state it
// came from (a suspended one stays suspended, with its purge_after). Returns
// lifecycle.ErrNotFound for an unknown instance, or a backup unknown or of another
// instance; lifecycle.ErrConflict when the instance is not settled active or suspended
// or the backup is not completed.
func (s *Service) Restore(ctx context.Context, instanceID, backupID, actor string) (lifecycle.Instance, error) {
	b, err := s.opts.Store.FindBackup(ctx, backupID)
	if err != nil || b.InstanceID != instanceID {
		if err == nil || errors.Is(err, lifecycle.ErrNotFound) {
			return lifecycle.Instance{}, fmt.Errorf("%w: instance %s has no backup %s", lifecycle.ErrNotFound, instanceID, backupID)
		}
		return lifecycle.Instance{}, err
	}
	if b.State != lifecycle.BackupCompleted {
		return lifecycle.Instance{}, fmt.Errorf("%w: backup %s is %s; only a completed backup can be restored", lifecycle.ErrConflict, b.ID, b.State)
	}
	inst, err := s.opts.Store.Change(ctx, instanceID, func(i *lifecycle.Instance) (lifecycle.Event, error) {
		settled := i.State == lifecycle.Active && i.Desired == lifecycle.WantActive ||
			i.State == lifecycle.Suspended && i.Desired == lifecycle.WantSuspended
		if !settled {
			return lifecycle.Event{}, fmt.Errorf("%w: instance %s is %s (asked: %s); a restore needs it active or suspended", lifecycle.ErrConflict, i.ID, i.State, i.Desired)
		}
		now := s.opts.Clock.Now()
		from := i.State
		i.State, i.RestoreBackupID, i.RestoreFrom = lifecycle.Restoring, b.ID, from
		i.Attempts, i.NextAttempt, i.LastError, i.UpdatedAt = 0, now, "", now
		return lifecycle.Event{InstanceID: i.ID, Type: lifecycle.EventRequested, At: now, Actor: actor,
			Reason: "restore from backup " + b.ID, FromState: from, ToState: lifecycle.Restoring}, nil
	})
	if err != nil {
		return lifecycle.Instance{}, err
	}
	if s.opts.Nudge != nil {
		s.opts.Nudge.Nudge()
	}
	return inst, nil
}

// RestoreSecretKey returns the secret key recorded in backup id's manifest, for a new
// instance made from it. Returns lifecycle.ErrNotFound for a backup that is unknown or
// not completed.
func (s *Service) RestoreSecretKey(ctx context.Context, backupID string) (string, error) {
	b, err := s.opts.Store.FindBackup(ctx, backupID)
	if err != nil {
		return "", err
	}
	if b.State != lifecycle.BackupCompleted {
		return "", fmt.Errorf("%w: backup %s is %s", lifecycle.ErrNotFound, b.ID, b.State)
	}
	m, err := s.opts.Vault.Manifest(ctx, b.InstanceID, b.ID)
	if err != nil {
		return "", fmt.Errorf("open backup %s: %w", b.ID, err)
	}
	key := m.Secrets["SPROUDCHAT_SECRET_KEY"]
	if key == "" {
		return "", fmt.Errorf("backup %s records no secret key", b.ID)
	}
	return key, nil
}

// Summary is what `sproudchat restore` reports of what it put in place.
type Summary struct {
	Tables int   `json:"tables"`
	Rows   int64 `json:"rows"`
	Blobs  int   `json:"blobs"`
	Bytes  int64 `json:"bytes"`
}

// RestoreData replaces inst's data with backup inst.RestoreBackupID (for the
// reconciler, which holds the instance's lease): the app stopped, the backup streamed
// from the vault into `sproudchat restore`, the app started from spec and ready, the
// restore committed. Every step may be run again after a crash: the tool first rolls
// back what an earlier run left uncommitted. On a failure it puts the previous data
// back and starts the app: the error then wraps lifecycle.ErrRestoreFailed and the
// status is the running app's. Any other error: the restore is to be run again.
func (s *Service) RestoreData(ctx context.Context, inst lifecycle.Instance, spec provisioning.Spec) (provisioning.Status, error) {
	b, err := s.opts.Store.FindBackup(ctx, inst.RestoreBackupID)
	if err == nil && b.State != lifecycle.BackupCompleted {
		err = fmt.Errorf("backup %s is %s", b.ID, b.State)
	}
	if err != nil {
		return s.rollback(ctx, spec, fmt.Errorf("backup %s: %w", inst.RestoreBackupID, err))
	}
	if err := s.opts.Tools.StopApp(ctx, spec.ID); err != nil {
		return provisioning.Status{}, fmt.Errorf("stop app: %w", err)
	}
	if _, _, err := s.stream(ctx, b, spec); err != nil {
		if ctx.Err() != nil {
			return provisioning.Status{}, ctx.Err()
		}
		return s.rollback(ctx, spec, err)
	}
	st, err := s.opts.Runtime.Apply(ctx, spec)
	if err != nil {
		if ctx.Err() != nil {
			return provisioning.Status{}, ctx.Err()
		}
		return s.rollback(ctx, spec, fmt.Errorf("start with the restored data: %w", err))
	}
	if err := s.opts.Tools.RunTool(ctx, spec, []string{"restore", "--commit"}, nil, io.Discard); err != nil {
		return provisioning.Status{}, fmt.Errorf("commit restore: %w", err)
	}
	return st, nil
}

// rollback puts the previous data back and starts the app. Returns an error wrapping
// lifecycle.ErrRestoreFailed and cause, or the error of the rollback itself.
func (s *Service) rollback(ctx context.Context, spec provisioning.Spec, cause error) (provisioning.Status, error) {
	if err := s.opts.Tools.StopApp(ctx, spec.ID); err != nil {
		return provisioning.Status{}, fmt.Errorf("stop app for rollback (after %v): %w", cause, err)
	}
	if err := s.opts.Tools.RunTool(ctx, spec, []string{"restore", "--rollback"}, nil, io.Discard); err != nil {
		return provisioning.Status{}, fmt.Errorf("roll back restore (after %v): %w", cause, err)
	}
	st, err := s.opts.Runtime.Apply(ctx, spec)
	if err != nil {
		return provisioning.Status{}, fmt.Errorf("start after rollback (after %v): %w", cause, err)
	}
	return st, fmt.Errorf("%w: %w", lifecycle.ErrRestoreFailed, cause)
}

// stream reads backup b from the vault into `sproudchat restore --from -` against
// spec's data. The vault checks the manifest and that every object exists before it
// writes a byte, and each object's content as it streams (an altered one cuts the
// stream short); the tool stages and checks everything before it swaps, so a refused
// backup changes nothing.
func (s *Service) stream(ctx context.Context, b lifecycle.Backup, spec provisioning.Spec) (vault.Manifest, Summary, error) {
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	type read struct {
		m   vault.Manifest
		err error
	}
	readDone := make(chan read, 1)
	go func() {
		m, err := s.opts.Vault.Read(tctx, b.InstanceID, b.ID, pw)
		pw.CloseWithError(err)
		readDone <- read{m, err}
	}()
	var out bytes.Buffer
	terr := s.opts.Tools.RunTool(tctx, spec, []string{"restore", "--from", "-"}, pr, &out)
	pr.CloseWithError(errors.New("the restore tool stopped reading"))
	if terr != nil {
		cancel()
	}
	r := <-readDone
	switch {
	case r.err != nil && (terr == nil || refused(r.err)):
		return vault.Manifest{}, Summary{}, fmt.Errorf("read backup %s: %w", b.ID, r.err)
	case terr != nil:
		return vault.Manifest{}, Summary{}, fmt.Errorf("sproudchat restore: %w", terr)
	}
	var sum Summary
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &sum); err != nil {
		return vault.Manifest{}, Summary{}, fmt.Errorf("sproudchat restore: unreadable summary %q: %w", firstLine(out.String()), err)
	}
	return r.m, sum, nil
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// refused tells whether the vault refused a backup (rather than failing to write it
// to a tool that stopped reading).
func refused(err error) bool {
	for _, e := range []error{vault.ErrNotFound, vault.ErrKey, vault.ErrTampered, vault.ErrForeign, vault.ErrMissing} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
