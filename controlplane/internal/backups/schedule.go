package backups

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
)

// Slot is when in each UTC day an instance's scheduled backup is due: spread over the
// day by its id, so that a thousand instances do not back up at midnight at once.
func Slot(instanceID string) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(instanceID))
	return time.Duration(h.Sum64()%(24*60*60)) * time.Second
}

// lastSlot is the latest slot of the instance at or before now.
func lastSlot(instanceID string, now time.Time) time.Time {
	day := now.UTC().Truncate(24 * time.Hour)
	slot := day.Add(Slot(instanceID))
	if slot.After(now) {
		slot = slot.AddDate(0, 0, -1)
	}
	return slot
}

// ScheduleDue creates the scheduled backup of every instance with data (active or
// suspended; none for a destroyed one) whose daily slot has come and that has none for
// it yet. Returns how many it created.
func (s *Service) ScheduleDue(ctx context.Context) (int, error) {
	now := s.opts.Clock.Now()
	n := 0
	after := ""
	for {
		page, next, err := s.opts.Store.ListInstances(ctx, lifecycle.InstanceFilter{After: after, Limit: 500})
		if err != nil {
			return n, err
		}
		for _, inst := range page {
			if !backedUp(inst.State) || inst.Desired == lifecycle.WantDestroyed {
				continue
			}
			slot := lastSlot(inst.ID, now)
			if slot.Before(inst.CreatedAt) {
				continue // its first slot is still to come
			}
			err := s.opts.Store.CreateBackup(ctx, s.newBackup(inst, slotID(inst.ID, slot), lifecycle.TriggerSchedule, now), lifecycle.Event{})
			switch {
			case errors.Is(err, lifecycle.ErrConflict):
				continue // taken for this slot already
			case err != nil:
				return n, fmt.Errorf("schedule backup of %s: %w", inst.ID, err)
			}
			n++
		}
		if next == "" {
			break
		}
		after = next
	}
	if n > 0 {
		s.log.InfoContext(ctx, "backups scheduled", "count", n)
		s.Nudge()
	}
	return n, nil
}

// Expire deletes every backup past its expiry, at the target and in the store, then
// collects the objects of its instance that no backup references any more. Returns how
// many backups it deleted.
func (s *Service) Expire(ctx context.Context) (int, error) {
	due, err := s.opts.Store.ExpiredBackups(ctx, s.opts.Clock.Now())
	if err != nil {
		return 0, err
	}
	touched := map[string]bool{}
	var order []string
	for _, b := range due {
		if err := s.opts.Vault.Delete(ctx, b.InstanceID, b.ID); err != nil {
			return 0, fmt.Errorf("delete expired backup %s: %w", b.ID, err)
		}
		if err := s.opts.Store.DeleteBackup(ctx, b.ID); err != nil {
			return 0, err
		}
		if !touched[b.InstanceID] {
			touched[b.InstanceID] = true
			order = append(order, b.InstanceID)
		}
	}
	for _, id := range order {
		objects, bytes, err := s.opts.Vault.Collect(ctx, id)
		if errors.Is(err, vault.ErrBusy) {
			s.log.InfoContext(ctx, "collection postponed: a backup of the instance runs", "instance_id", id)
			continue // the next expiry run collects
		}
		if err != nil {
			return len(due), fmt.Errorf("collect objects of %s: %w", id, err)
		}
		s.log.InfoContext(ctx, "expired backups deleted", "instance_id", id, "objects_collected", objects, "bytes_collected", bytes)
	}
	return len(due), nil
}

// stale lists the instances with data and no completed backup for lifecycle.StaleAfter
// (counted from their creation when they have none), with their summaries.
func (s *Service) stale(ctx context.Context) ([]lifecycle.BackupSummary, error) {
	sums, err := s.opts.Store.BackupSummaries(ctx)
	if err != nil {
		return nil, err
	}
	now := s.opts.Clock.Now()
	var out []lifecycle.BackupSummary
	for _, sum := range sums {
		if !backedUp(sum.State) {
			continue
		}
		since := sum.CreatedAt
		if sum.LastSuccess != nil {
			since = *sum.LastSuccess
		}
		if now.Sub(since) >= lifecycle.StaleAfter {
			out = append(out, sum)
		}
	}
	return out, nil
}

// Stale lists the instances without a successful backup for lifecycle.StaleAfter.
func (s *Service) Stale(ctx context.Context) ([]Stale, error) {
	list, err := s.stale(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Stale, len(list))
	for i, x := range list {
		out[i] = Stale{InstanceID: x.InstanceID, Slug: x.Slug, State: x.State, LastSuccess: x.LastSuccess}
	}
	return out, nil
}

// CheckStale raises backup.stale once for each instance that went stale: the mark it
// sets is cleared by its next completed backup. Returns how many it raised.
func (s *Service) CheckStale(ctx context.Context) (int, error) {
	list, err := s.stale(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	now := s.opts.Clock.Now()
	for _, x := range list {
		if x.StaleAt != nil {
			continue
		}
		inst, err := s.opts.Store.FindInstance(ctx, x.InstanceID)
		if err != nil {
			return n, err
		}
		last := "never"
		if x.LastSuccess != nil {
			last = x.LastSuccess.Format(time.RFC3339)
		}
		ev := s.event(inst, lifecycle.EventBackupStale, now, "no successful backup since "+last)
		err = s.opts.Store.MarkStale(ctx, inst.ID, &now, ev)
		if errors.Is(err, lifecycle.ErrConflict) {
			continue // another process raised it
		}
		if err != nil {
			return n, err
		}
		s.log.WarnContext(ctx, "backups stale", "instance_id", inst.ID, "last_success", last)
		n++
	}
	return n, nil
}

// Stats returns, per instance that is not destroyed, what metrics show.
func (s *Service) Stats(ctx context.Context) ([]Stat, error) {
	sums, err := s.opts.Store.BackupSummaries(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Stat, len(sums))
	for i, x := range sums {
		out[i] = Stat{InstanceID: x.InstanceID, Slug: x.Slug, LastSuccess: x.LastSuccess, StoredBytes: x.StoredBytes, LastDrillOK: x.LastDrillOK}
	}
	return out, nil
}

// Purge erases every backup of an instance at the target and in the store (a
// customer's erasure request), destroyed instances included. Returns how many backups
// it removed. Returns lifecycle.ErrNotFound for an unknown instance.
func (s *Service) Purge(ctx context.Context, instanceID, actor string) (int, error) {
	inst, err := s.opts.Store.FindInstance(ctx, instanceID)
	if err != nil {
		return 0, err
	}
	if err := s.opts.Vault.Purge(ctx, inst.ID); err != nil {
		return 0, fmt.Errorf("purge backups of %s: %w", inst.ID, err)
	}
	now := s.opts.Clock.Now()
	ev := lifecycle.Event{InstanceID: inst.ID, Type: lifecycle.EventBackupsPurged, At: now, Actor: actor, FromState: inst.State, ToState: inst.State}
	n, err := s.opts.Store.DeleteBackups(ctx, inst.ID, ev)
	if err != nil {
		return 0, err
	}
	s.log.InfoContext(ctx, "backups purged", "instance_id", inst.ID, "count", n, "actor", actor)
	return n, nil
}

// FinalBackup makes sure instance inst has its final backup before it is purged: it
// asks for one the first time and tells done once it completed or failed for good.
func (s *Service) FinalBackup(ctx context.Context, inst lifecycle.Instance) (bool, error) {
	list, err := s.opts.Store.ListBackups(ctx, inst.ID)
	if err != nil {
		return false, err
	}
	for _, b := range list {
		if b.Trigger != lifecycle.TriggerFinal {
			continue
		}
		return b.State == lifecycle.BackupCompleted || b.State == lifecycle.BackupFailed, nil
	}
	now := s.opts.Clock.Now()
	b := s.newBackup(inst, newID(now), lifecycle.TriggerFinal, now)
	if err := s.opts.Store.CreateBackup(ctx, b, lifecycle.Event{}); err != nil {
		return false, err
	}
	s.log.InfoContext(ctx, "final backup requested before purge", "instance_id", inst.ID, "backup_id", b.ID)
	s.Nudge()
	return false, nil
}

// Schedule registers the scheduled work with c: every minute the daily backups that
// came due and the stale check, every hour expiry, every ten minutes whether a round
// of drills is due. Each reads the injected clock.
func (s *Service) Schedule(ctx context.Context, c *cron.Cron) {
	c.AddFunc("@every 1m", func() {
		if _, err := s.ScheduleDue(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "backup schedule", "error", err.Error())
		}
		if _, err := s.CheckStale(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "backup stale check", "error", err.Error())
		}
	})
	c.AddFunc("@every 1h", func() {
		if _, err := s.Expire(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "backup expiry", "error", err.Error())
		}
	})
	c.AddFunc("@every 10m", func() {
		if _, err := s.DrillDue(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "backup drills", "error", err.Error())
		}
	})
}
