package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

type drillRow struct {
	ID            string `gorm:"primaryKey"`
	InstanceID    string
	BackupID      string
	ScratchID     string
	StartedAt     time.Time
	FinishedAt    *time.Time
	OK            bool `gorm:"column:ok"`
	Error         string
	TablesChecked int
	RowsChecked   int64
	BlobsChecked  int
}

func (drillRow) TableName() string { return "backup_drills" }

func (r drillRow) domain() lifecycle.Drill {
	return lifecycle.Drill{ID: r.ID, InstanceID: r.InstanceID, BackupID: r.BackupID, ScratchID: r.ScratchID, StartedAt: r.StartedAt.UTC(),
		FinishedAt: utc(r.FinishedAt), OK: r.OK, Error: r.Error, Tables: r.TablesChecked, Rows: r.RowsChecked, Blobs: r.BlobsChecked}
}

// CreateDrill records a drill as it starts: while it is unfinished, its scratch
// instance is not an orphan.
func (s *Store) CreateDrill(ctx context.Context, d lifecycle.Drill) error {
	row := drillRow{ID: d.ID, InstanceID: d.InstanceID, BackupID: d.BackupID, ScratchID: d.ScratchID, StartedAt: d.StartedAt}
	return translate(s.db.gorm.WithContext(ctx).Create(&row).Error)
}

// FinishDrill records a drill's result, and ev (when it has a type) in one transaction.
func (s *Store) FinishDrill(ctx context.Context, d lifecycle.Drill, ev lifecycle.Event) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Model(&drillRow{}).Where("id = ?", d.ID).Updates(map[string]any{"finished_at": d.FinishedAt, "ok": d.OK,
			"error": d.Error, "tables_checked": d.Tables, "rows_checked": d.Rows, "blobs_checked": d.Blobs}).Error
		if err != nil {
			return err
		}
		if ev.Type == "" {
			return nil
		}
		return addEvent(tx, ev)
	})
}

// ListDrills returns the latest drills, newest first, of one instance or ("") of all.
func (s *Store) ListDrills(ctx context.Context, instanceID string, limit int) ([]lifecycle.Drill, error) {
	q := s.db.gorm.WithContext(ctx).Order("started_at DESC, id DESC")
	if instanceID != "" {
		q = q.Where("instance_id = ?", instanceID)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	var rows []drillRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]lifecycle.Drill, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// UnfinishedDrills returns the drills that started and have no result yet.
func (s *Store) UnfinishedDrills(ctx context.Context) ([]lifecycle.Drill, error) {
	var rows []drillRow
	if err := s.db.gorm.WithContext(ctx).Where("finished_at IS NULL").Order("started_at").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]lifecycle.Drill, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// DrillRunning tells whether id is the scratch instance of a drill that started after
// since and has no result yet: garbage collection leaves it alone.
func (s *Store) DrillRunning(ctx context.Context, id string, since time.Time) (bool, error) {
	var n int64
	err := s.db.gorm.WithContext(ctx).Model(&drillRow{}).Where("scratch_id = ? AND finished_at IS NULL AND started_at > ?", id, since).Count(&n).Error
	return n > 0, err
}

type controlKeyRow struct {
	Name      string `gorm:"primaryKey"`
	Value     []byte
	CreatedAt time.Time
}

func (controlKeyRow) TableName() string { return "control_keys" }

const backupIdentityKey = "backup_identity"

// BackupIdentity returns the control plane's sealed backup identity. Returns
// lifecycle.ErrNotFound before the first start made one.
func (s *Store) BackupIdentity(ctx context.Context) ([]byte, error) {
	var r controlKeyRow
	if err := s.db.gorm.WithContext(ctx).Where("name = ?", backupIdentityKey).Take(&r).Error; err != nil {
		return nil, translate(err)
	}
	return r.Value, nil
}

// PutBackupIdentity stores the sealed backup identity once. Returns
// lifecycle.ErrConflict when one is stored (a concurrent first start made it).
func (s *Store) PutBackupIdentity(ctx context.Context, sealed []byte) error {
	row := controlKeyRow{Name: backupIdentityKey, Value: sealed, CreatedAt: time.Now().UTC()}
	return translate(s.db.gorm.WithContext(ctx).Create(&row).Error)
}
