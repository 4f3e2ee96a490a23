package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/provisioning"
)

var errNoRestorer = errors.New("backups are not configured: nothing can restore")

// restore replaces a restoring instance's data with its backup's and returns it to the
// state it came from: a suspended instance stays suspended (read-only, same
// purge_after); a new instance made from a backup becomes active. A failed restore
// puts the previous data back (event instance.restore_failed; a new instance fails).
// Anything else (a crash, a runtime error) leaves it restoring for the next pass,
// which runs the whole restore again.
func (r *Reconciler) restore(ctx context.Context, inst lifecycle.Instance) error {
	start := r.opts.Clock.Now()
	mode := provisioning.ModeActive
	if inst.RestoreFrom == lifecycle.Suspended {
		mode = provisioning.ModeReadOnly
	}
	spec, err := r.specs.Spec(ctx, inst, mode)
	if err != nil {
		return r.failAttempt(ctx, inst, err)
	}
	if r.opts.Restorer == nil {
		return r.failAttempt(ctx, inst, errNoRestorer)
	}
	st, err := r.opts.Restorer.RestoreData(ctx, inst, spec)
	if err != nil && !errors.Is(err, lifecycle.ErrRestoreFailed) {
		return r.failAttempt(ctx, inst, err)
	}
	now := r.opts.Clock.Now()
	backupID, back := inst.RestoreBackupID, inst.RestoreFrom
	isNew := back == lifecycle.Provisioning
	ev := lifecycle.Event{InstanceID: inst.ID, At: now, Actor: "reconciler", FromState: lifecycle.Restoring}
	inst.Upstream, inst.Attempts, inst.UpdatedAt, inst.RestoreFrom = st.Upstream, 0, now, ""
	switch {
	case err == nil && isNew:
		inst.State, inst.LastError, inst.RestoreBackupID = lifecycle.Active, "", ""
		ev.Type, ev.Reason = lifecycle.EventActivated, "restored from backup "+backupID
	case err == nil:
		inst.State, inst.LastError, inst.RestoreBackupID = back, "", ""
		ev.Type, ev.Reason = lifecycle.EventRestored, "restored from backup "+backupID
	case isNew:
		// Kept: a retry restores it again.
		inst.State, inst.LastError = lifecycle.Failed, trim(err.Error())
		ev.Type, ev.Reason = lifecycle.EventFailed, fmt.Sprintf("restore from backup %s: %s", backupID, inst.LastError)
	default:
		inst.State, inst.LastError, inst.RestoreBackupID = back, trim(err.Error()), ""
		ev.Type, ev.Reason = lifecycle.EventRestoreFailed, fmt.Sprintf("backup %s: %s", backupID, inst.LastError)
	}
	ev.ToState = inst.State
	if err := r.record(ctx, inst, ev); err != nil {
		return err
	}
	if isNew && ev.Type == lifecycle.EventActivated {
		// Billing hears of the new instance (activated) and of its data (restored).
		restored := lifecycle.Event{InstanceID: inst.ID, Type: lifecycle.EventRestored, At: now, Actor: "reconciler",
			Reason: ev.Reason, FromState: lifecycle.Active, ToState: lifecycle.Active}
		if err := r.record(ctx, inst, restored); err != nil {
			return err
		}
	}
	r.log.InfoContext(ctx, "restore finished", "instance_id", inst.ID, "backup_id", backupID, "state", string(inst.State),
		"event", ev.Type, "took_ms", now.Sub(start).Milliseconds())
	r.opts.OnChange(inst, lifecycle.Restoring, now.Sub(start))
	return nil
}

func trim(msg string) string {
	if len(msg) > 2000 {
		return msg[:2000]
	}
	return msg
}
