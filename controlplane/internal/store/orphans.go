package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"
)

type orphanRow struct {
	InstanceID  string `gorm:"primaryKey"`
	FirstSeenAt time.Time
}

func (orphanRow) TableName() string { return "orphans" }

// SeeOrphans records that garbage collection found the runtime objects of ids without
// a live instance, at now for those not recorded before, and returns when each was
// first found. Concurrent callers agree on the first time.
func (s *Store) SeeOrphans(ctx context.Context, ids []string, now time.Time) (map[string]time.Time, error) {
	if len(ids) == 0 {
		return map[string]time.Time{}, nil
	}
	rows := make([]orphanRow, len(ids))
	for i, id := range ids {
		rows[i] = orphanRow{InstanceID: id, FirstSeenAt: now.UTC()}
	}
	if err := s.db.gorm.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return s.OrphansSeen(ctx, ids)
}

// OrphansSeen returns when garbage collection first found each of ids orphaned; ids it
// never recorded are absent from the map.
func (s *Store) OrphansSeen(ctx context.Context, ids []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []orphanRow
	if err := s.db.gorm.WithContext(ctx).Where("instance_id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	for _, r := range rows {
		out[r.InstanceID] = r.FirstSeenAt.UTC()
	}
	return out, nil
}

// ForgetOrphans drops the records of every orphan but keep: ones removed, or no longer
// orphaned. A later orphan of the same id starts its grace period afresh.
func (s *Store) ForgetOrphans(ctx context.Context, keep []string) error {
	q := s.db.gorm.WithContext(ctx)
	if len(keep) > 0 {
		q = q.Where("instance_id NOT IN ?", keep)
	} else {
		q = q.Where("1 = 1")
	}
	return translate(q.Delete(&orphanRow{}).Error)
}
