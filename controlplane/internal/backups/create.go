package backups

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
)

// newID returns a backup id that sorts by time: bk, the time in milliseconds, randomness.
func newID(now time.Time) string { return fmt.Sprintf("bk%011x%s", now.UnixMilli(), secret.Random(4)) }

// slotID is the id of the scheduled backup of an instance at slot: the same in every
// process, so that the store keeps one however many schedulers race for it.
func slotID(instanceID string, slot time.Time) string {
	h := sha256.Sum256([]byte(instanceID))
	return fmt.Sprintf("bk%011x%s", slot.UnixMilli(), hex.EncodeToString(h[:4]))
}

// backedUp tells whether an instance in state st has data to back up.
func backedUp(st lifecycle.State) bool {
	switch st {
	case lifecycle.Active, lifecycle.Suspended, lifecycle.Suspending, lifecycle.Resuming, lifecycle.Restoring:
		return true
	}
	return false
}

// newBackup is a pending backup of inst, due now, expiring after its plan's retention.
func (s *Service) newBackup(inst lifecycle.Instance, id, trigger string, now time.Time) lifecycle.Backup {
	days := min(s.opts.Specs.BackupRetentionDays(inst.Plan), lifecycle.MaxRetentionDays)
	if days <= 0 {
		days = lifecycle.MaxRetentionDays
	}
	return lifecycle.Backup{ID: id, InstanceID: inst.ID, State: lifecycle.BackupPending, Trigger: trigger, CreatedAt: now,
		ExpiresAt: now.AddDate(0, 0, days), NextAttempt: now}
}

// Create asks for a backup of instance id now (trigger manual); the worker takes it.
// Returns lifecycle.ErrNotFound for an unknown instance, lifecycle.ErrConflict for one
// that is destroyed or has no data yet.
func (s *Service) Create(ctx context.Context, instanceID, actor string) (lifecycle.Backup, error) {
	inst, err := s.opts.Store.FindInstance(ctx, instanceID)
	if err != nil {
		return lifecycle.Backup{}, err
	}
	if inst.Desired == lifecycle.WantDestroyed || inst.State == lifecycle.Destroyed {
		return lifecycle.Backup{}, fmt.Errorf("%w: instance %s is %s", lifecycle.ErrConflict, inst.ID, inst.State)
	}
	if !backedUp(inst.State) {
		return lifecycle.Backup{}, fmt.Errorf("%w: instance %s is %s: nothing to back up yet", lifecycle.ErrConflict, inst.ID, inst.State)
	}
	now := s.opts.Clock.Now()
	b := s.newBackup(inst, newID(now), lifecycle.TriggerManual, now)
	if err := s.opts.Store.CreateBackup(ctx, b, lifecycle.Event{}); err != nil {
		return lifecycle.Backup{}, fmt.Errorf("record backup: %w", err)
	}
	s.log.InfoContext(ctx, "backup requested", "instance_id", inst.ID, "backup_id", b.ID, "actor", actor)
	s.Nudge()
	return b, nil
}

// List returns an instance's backups, newest first. Returns lifecycle.ErrNotFound for
// an unknown instance.
func (s *Service) List(ctx context.Context, instanceID string) ([]lifecycle.Backup, error) {
	if _, err := s.opts.Store.FindInstance(ctx, instanceID); err != nil {
		return nil, err
	}
	return s.opts.Store.ListBackups(ctx, instanceID)
}

// Nudge wakes the worker now instead of at its next poll.
func (s *Service) Nudge() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}
