package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

type backupRow struct {
	ID             string `gorm:"primaryKey"`
	InstanceID     string
	State          string
	TriggerKind    string
	CreatedAt      time.Time
	StartedAt      *time.Time
	CompletedAt    *time.Time
	ExpiresAt      time.Time
	SizeBytes      int64
	AddedBytes     int64
	Attempts       int
	NextAttemptAt  time.Time
	LastError      string
	LeaseOwner     string
	LeaseExpiresAt *time.Time
}

func (backupRow) TableName() string { return "backups" }

func (r backupRow) domain() lifecycle.Backup {
	return lifecycle.Backup{ID: r.ID, InstanceID: r.InstanceID, State: lifecycle.BackupState(r.State), Trigger: r.TriggerKind,
		CreatedAt: r.CreatedAt.UTC(), StartedAt: utc(r.StartedAt), CompletedAt: utc(r.CompletedAt), ExpiresAt: r.ExpiresAt.UTC(),
		SizeBytes: r.SizeBytes, AddedBytes: r.AddedBytes, Attempts: r.Attempts, NextAttempt: r.NextAttemptAt.UTC(), LastError: r.LastError}
}

func backupFields(b lifecycle.Backup) map[string]any {
	return map[string]any{"state": string(b.State), "started_at": b.StartedAt, "completed_at": b.CompletedAt, "expires_at": b.ExpiresAt,
		"size_bytes": b.SizeBytes, "added_bytes": b.AddedBytes, "attempts": b.Attempts, "next_attempt_at": b.NextAttempt,
		"last_error": b.LastError}
}

// CreateBackup stores a new backup and ev (when it has a type) in one transaction.
// Returns lifecycle.ErrConflict when its id exists (a scheduled backup already made).
func (s *Store) CreateBackup(ctx context.Context, b lifecycle.Backup, ev lifecycle.Event) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row := backupRow{ID: b.ID, InstanceID: b.InstanceID, State: string(b.State), TriggerKind: b.Trigger, CreatedAt: b.CreatedAt,
			StartedAt: b.StartedAt, CompletedAt: b.CompletedAt, ExpiresAt: b.ExpiresAt, SizeBytes: b.SizeBytes, AddedBytes: b.AddedBytes,
			Attempts: b.Attempts, NextAttemptAt: b.NextAttempt, LastError: b.LastError}
		if err := tx.Create(&row).Error; err != nil {
			return translate(err)
		}
		if ev.Type == "" {
			return nil
		}
		return addEvent(tx, ev)
	})
}

// FindBackup returns lifecycle.ErrNotFound for an unknown id.
func (s *Store) FindBackup(ctx context.Context, id string) (lifecycle.Backup, error) {
	var r backupRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return lifecycle.Backup{}, translate(err)
	}
	return r.domain(), nil
}

// ListBackups returns an instance's backups, newest first.
func (s *Store) ListBackups(ctx context.Context, instanceID string) ([]lifecycle.Backup, error) {
	var rows []backupRow
	if err := s.db.gorm.WithContext(ctx).Where("instance_id = ?", instanceID).Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	return backupDomains(rows), nil
}

func backupDomains(rows []backupRow) []lifecycle.Backup {
	out := make([]lifecycle.Backup, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out
}

// ClaimBackup leases one due backup: pending, or running under an expired lease (a
// worker died mid-backup; the backup is taken again from the start). The lease is
// taken by a conditional update, so two workers never run one backup at once; the
// backup is running from then on. Returns ok=false when nothing is due.
func (s *Store) ClaimBackup(ctx context.Context, owner string, now time.Time, ttl time.Duration) (lifecycle.Backup, bool, error) {
	var ids []string
	due := "((state = 'pending' AND next_attempt_at <= ?) OR state = 'running') AND (lease_owner = '' OR lease_expires_at < ?)"
	err := s.db.gorm.WithContext(ctx).Model(&backupRow{}).Where(due, now, now).Order("next_attempt_at").Limit(8).Pluck("id", &ids).Error
	if err != nil {
		return lifecycle.Backup{}, false, err
	}
	for _, id := range ids {
		res := s.db.gorm.WithContext(ctx).Model(&backupRow{}).Where("id = ? AND "+due, id, now, now).
			Updates(map[string]any{"lease_owner": owner, "lease_expires_at": now.Add(ttl), "state": string(lifecycle.BackupRunning)})
		if res.Error != nil {
			return lifecycle.Backup{}, false, res.Error
		}
		if res.RowsAffected == 1 {
			b, err := s.FindBackup(ctx, id)
			return b, err == nil, err
		}
	}
	return lifecycle.Backup{}, false, nil
}

// NextBackupDue tells when the earliest pending backup is due, for the worker's sleep.
func (s *Store) NextBackupDue(ctx context.Context) (time.Time, bool, error) {
	var r backupRow
	err := s.db.gorm.WithContext(ctx).Select("next_attempt_at").Where("state = 'pending'").Order("next_attempt_at").Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, false, nil
	}
	return r.NextAttemptAt, err == nil, err
}

// RenewBackupLease extends owner's lease. Returns lifecycle.ErrLeaseLost when another
// holds it or the backup is gone.
func (s *Store) RenewBackupLease(ctx context.Context, id, owner string, until time.Time) error {
	res := s.db.gorm.WithContext(ctx).Model(&backupRow{}).Where("id = ? AND lease_owner = ?", id, owner).Update("lease_expires_at", until)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return lifecycle.ErrLeaseLost
	}
	return nil
}

// UpdateBackup writes b, changed by the worker holding its lease, and gives the lease
// up; ev (when it has a type) is written in the same transaction, and a completed
// backup clears its instance's stale mark. Returns lifecycle.ErrLeaseLost when owner
// no longer holds the lease (or the backup was purged meanwhile).
func (s *Store) UpdateBackup(ctx context.Context, b lifecycle.Backup, owner string, ev lifecycle.Event) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		f := backupFields(b)
		f["lease_owner"], f["lease_expires_at"] = "", nil
		res := tx.Model(&backupRow{}).Where("id = ? AND lease_owner = ?", b.ID, owner).Updates(f)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return lifecycle.ErrLeaseLost
		}
		if b.State == lifecycle.BackupCompleted {
			if err := tx.Model(&instanceRow{}).Where("id = ?", b.InstanceID).Update("backup_stale_at", nil).Error; err != nil {
				return err
			}
		}
		if ev.Type == "" {
			return nil
		}
		return addEvent(tx, ev)
	})
}

// DeleteBackup removes one backup's row (its objects are the vault's).
func (s *Store) DeleteBackup(ctx context.Context, id string) error {
	return s.db.gorm.WithContext(ctx).Where("id = ?", id).Delete(&backupRow{}).Error
}

// DeleteBackups removes every backup row of an instance, and ev (when it has a type)
// is written in the same transaction. Returns how many rows went.
func (s *Store) DeleteBackups(ctx context.Context, instanceID string, ev lifecycle.Event) (int, error) {
	var n int64
	err := s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("instance_id = ?", instanceID).Delete(&backupRow{})
		if res.Error != nil {
			return res.Error
		}
		n = res.RowsAffected
		if ev.Type == "" {
			return nil
		}
		return addEvent(tx, ev)
	})
	return int(n), err
}

// ExpiredBackups returns the backups whose expiry has passed, whatever their state,
// except one running under a live lease.
func (s *Store) ExpiredBackups(ctx context.Context, now time.Time) ([]lifecycle.Backup, error) {
	var rows []backupRow
	err := s.db.gorm.WithContext(ctx).Where("expires_at <= ? AND NOT (state = 'running' AND lease_expires_at >= ?)", now, now).
		Order("instance_id, created_at").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	return backupDomains(rows), nil
}

// BackupSummaries sums up the backups of every instance that is not destroyed, in id
// order: its newest completed backup, the bytes its backups added, its newest drill.
func (s *Store) BackupSummaries(ctx context.Context) ([]lifecycle.BackupSummary, error) {
	var rows []struct {
		ID            string
		Slug          string
		State         string
		CreatedAt     time.Time
		BackupStaleAt *time.Time
	}
	if err := s.db.gorm.WithContext(ctx).Model(&instanceRow{}).Select("id, slug, state, created_at, backup_stale_at").
		Where("state <> ?", lifecycle.Destroyed).Order("id").Scan(&rows).Error; err != nil {
		return nil, err
	}
	var added []struct {
		InstanceID string
		Added      int64
	}
	if err := s.db.gorm.WithContext(ctx).Model(&backupRow{}).Select("instance_id, SUM(added_bytes) AS added").
		Where("state = ?", lifecycle.BackupCompleted).Group("instance_id").Scan(&added).Error; err != nil {
		return nil, err
	}
	// The newest completed backup of each instance, in one query.
	var newest []backupRow
	if err := s.db.gorm.WithContext(ctx).Select("instance_id, completed_at, size_bytes").
		Where("state = ? AND completed_at = (SELECT MAX(b2.completed_at) FROM backups b2 WHERE b2.instance_id = backups.instance_id AND b2.state = ?)",
			lifecycle.BackupCompleted, lifecycle.BackupCompleted).Find(&newest).Error; err != nil {
		return nil, err
	}
	last := map[string]lifecycle.BackupSummary{}
	for _, b := range newest {
		last[b.InstanceID] = lifecycle.BackupSummary{LastSuccess: utc(b.CompletedAt), StoredBytes: b.SizeBytes}
	}
	for _, x := range added {
		sum := last[x.InstanceID]
		sum.StoredBytes = max(sum.StoredBytes, x.Added)
		last[x.InstanceID] = sum
	}
	var drills []drillRow
	if err := s.db.gorm.WithContext(ctx).Where("finished_at IS NOT NULL").Order("started_at").Find(&drills).Error; err != nil {
		return nil, err
	}
	drilled := map[string]drillRow{}
	for _, d := range drills {
		drilled[d.InstanceID] = d // the newest wins
	}
	out := make([]lifecycle.BackupSummary, 0, len(rows))
	for _, r := range rows {
		sum := last[r.ID]
		sum.InstanceID, sum.Slug, sum.State, sum.CreatedAt, sum.StaleAt = r.ID, r.Slug, lifecycle.State(r.State), r.CreatedAt.UTC(), utc(r.BackupStaleAt)
		if d, found := drilled[r.ID]; found {
			ok, at := d.OK, d.StartedAt.UTC()
			sum.LastDrillOK, sum.LastDrillAt = &ok, &at
		}
		out = append(out, sum)
	}
	return out, nil
}

// MarkStale records (at set) or clears (at nil) when backup.stale was raised for an
// instance, with ev (when it has a type) in one transaction. The mark is set only when
// none is, so that two processes raise the event once: returns lifecycle.ErrConflict
// when it was set already.
func (s *Store) MarkStale(ctx context.Context, id string, at *time.Time, ev lifecycle.Event) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Model(&instanceRow{}).Where("id = ?", id)
		if at != nil {
			q = q.Where("backup_stale_at IS NULL")
		}
		res := q.Update("backup_stale_at", at)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: instance %s is marked stale already", lifecycle.ErrConflict, id)
		}
		if ev.Type == "" {
			return nil
		}
		return addEvent(tx, ev)
	})
}

// AddEvent writes one event of an instance and queues its webhook deliveries.
func (s *Store) AddEvent(ctx context.Context, ev lifecycle.Event) error {
	return addEvent(s.db.gorm.WithContext(ctx), ev)
}
