package store

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
)

// Hooks implements notify.HookStore.
type Hooks struct{ db *DB }

// NewHooks returns the notification store of db.
func NewHooks(db *DB) *Hooks { return &Hooks{db: db} }

var _ notify.HookStore = (*Hooks)(nil)

type targetRow struct {
	ID           int64 `gorm:"primaryKey"`
	Kind         string
	Name         string
	Events       string // comma-separated
	ConfigSealed []byte
	Hint         string
	Active       bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (targetRow) TableName() string { return "notify_targets" }

func (r targetRow) domain() notify.Target {
	events := []string{}
	if r.Events != "" {
		events = strings.Split(r.Events, ",")
	}
	return notify.Target{ID: r.ID, Kind: r.Kind, Name: r.Name, Events: events, Sealed: r.ConfigSealed, Hint: r.Hint, Active: r.Active,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func toTargetRow(t notify.Target) targetRow {
	return targetRow{ID: t.ID, Kind: t.Kind, Name: t.Name, Events: strings.Join(t.Events, ","), ConfigSealed: t.Sealed, Hint: t.Hint,
		Active: t.Active, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// CreateTarget stores t (its config only sealed) and sets its ID.
func (s *Hooks) CreateTarget(ctx context.Context, t *notify.Target) error {
	row := toTargetRow(*t)
	if err := s.db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err)
	}
	t.ID = row.ID
	return nil
}

// UpdateTarget returns instance.ErrNotFound for an unknown id.
func (s *Hooks) UpdateTarget(ctx context.Context, t notify.Target) error {
	row := toTargetRow(t)
	res := s.db.gorm.WithContext(ctx).Model(&targetRow{}).Where("id = ?", t.ID).Updates(map[string]any{"name": row.Name, "events": row.Events,
		"config_sealed": row.ConfigSealed, "hint": row.Hint, "active": row.Active, "updated_at": row.UpdatedAt})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return instance.ErrNotFound
	}
	return nil
}

// DeleteTarget removes a target; its queue and log go with it (ON DELETE CASCADE).
// Returns instance.ErrNotFound.
func (s *Hooks) DeleteTarget(ctx context.Context, id int64) error {
	res := s.db.gorm.WithContext(ctx).Delete(&targetRow{}, id)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return instance.ErrNotFound
	}
	return nil
}

// FindTarget returns instance.ErrNotFound for an unknown id.
func (s *Hooks) FindTarget(ctx context.Context, id int64) (notify.Target, error) {
	var r targetRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return notify.Target{}, translate(err)
	}
	return r.domain(), nil
}

// ListTargets returns every target in the order they were added.
func (s *Hooks) ListTargets(ctx context.Context) ([]notify.Target, error) {
	var rows []targetRow
	if err := s.db.gorm.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]notify.Target, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

type deliveryRow struct {
	ID            int64 `gorm:"primaryKey"`
	DeliveryID    string
	TargetID      int64
	EventType     string
	Payload       string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
	SentAt        *time.Time
	EventCount    int
}

func (deliveryRow) TableName() string { return "notify_deliveries" }

func (r deliveryRow) domain() notify.Delivery {
	return notify.Delivery{ID: r.ID, DeliveryID: r.DeliveryID, TargetID: r.TargetID, EventType: r.EventType, Payload: r.Payload, Status: r.Status,
		Attempts: r.Attempts, NextAttempt: r.NextAttemptAt.UTC(), CreatedAt: r.CreatedAt.UTC(), SentAt: utcPtr(r.SentAt), Count: r.EventCount}
}

func toDeliveryRow(d notify.Delivery) deliveryRow {
	return deliveryRow{DeliveryID: d.DeliveryID, TargetID: d.TargetID, EventType: d.EventType, Payload: d.Payload, Status: d.Status,
		NextAttemptAt: d.NextAttempt, CreatedAt: d.CreatedAt, EventCount: max(d.Count, 1)}
}

// EnqueueDeliveries stores ds in one transaction and sets their IDs.
func (s *Hooks) EnqueueDeliveries(ctx context.Context, ds []notify.Delivery) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for i := range ds {
			d := &ds[i]
			row := toDeliveryRow(*d)
			if err := tx.Create(&row).Error; err != nil {
				return translate(err)
			}
			d.ID, d.Count = row.ID, row.EventCount
		}
		return nil
	})
}

// CoalesceDelivery queues d, or counts it into the delivery of its type that waits for
// the window to end. A waiting delivery is created with created_at and next_attempt_at
// at the time it is due; it counts events until a worker claims it, which moves
// next_attempt_at: the count is raised only while the two are equal.
func (s *Hooks) CoalesceDelivery(ctx context.Context, d *notify.Delivery, window time.Duration) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Two events for one target at once must not both open a waiting delivery.
		// SQLite needs nothing: its transactions begin with the write lock.
		if s.db.dialect == Postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(0x70d1)<<40|d.TargetID).Error; err != nil {
				return err
			}
		}
		now := d.CreatedAt
		var last deliveryRow
		if err := tx.Where("target_id = ? AND event_type = ?", d.TargetID, d.EventType).Order("created_at DESC, id DESC").Limit(1).Find(&last).Error; err != nil {
			return err
		}
		row := toDeliveryRow(*d)
		switch {
		case last.ID == 0 || !last.CreatedAt.After(now.Add(-window)):
			// The target has not been told of this within the window: now.
		case last.CreatedAt.After(now) && last.Status == notify.MailPending && last.NextAttemptAt.Equal(last.CreatedAt):
			res := tx.Model(&deliveryRow{}).Where("id = ? AND status = ? AND next_attempt_at = ?", last.ID, notify.MailPending, last.NextAttemptAt).
				Update("event_count", gorm.Expr("event_count + 1"))
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 1 {
				*d = last.domain()
				d.Count++
				return nil
			}
			fallthrough // claimed meanwhile: the next window
		default:
			row.CreatedAt = last.CreatedAt.Add(window)
			row.NextAttemptAt = row.CreatedAt
		}
		if err := tx.Create(&row).Error; err != nil {
			return translate(err)
		}
		*d = row.domain()
		return nil
	})
}

// ClaimDeliveries takes up to limit due deliveries, holding each for hold against
// other workers. Each one's count is read after the claim, when it can no longer grow.
func (s *Hooks) ClaimDeliveries(ctx context.Context, now time.Time, hold time.Duration, limit int) ([]notify.Delivery, error) {
	rows, err := claimDue[deliveryRow](ctx, s.db, now, hold, limit)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var counts []struct {
		ID         int64
		EventCount int
	}
	if err := s.db.gorm.WithContext(ctx).Model(&deliveryRow{}).Select("id, event_count").Where("id IN ?", ids).Find(&counts).Error; err != nil {
		return nil, err
	}
	count := make(map[int64]int, len(counts))
	for _, c := range counts {
		count[c.ID] = c.EventCount
	}
	out := make([]notify.Delivery, len(rows))
	for i, r := range rows {
		r.EventCount = count[r.ID]
		out[i] = r.domain()
	}
	return out, nil
}

// ReleaseDeliveries gives back claimed deliveries that were not attempted.
func (s *Hooks) ReleaseDeliveries(ctx context.Context, ds []notify.Delivery) error {
	next := make(map[int64]time.Time, len(ds))
	for _, d := range ds {
		next[d.ID] = d.NextAttempt
	}
	return releaseClaimed[deliveryRow](ctx, s.db, next)
}

type attemptRow struct {
	ID         int64 `gorm:"primaryKey"`
	DeliveryID int64
	TargetID   int64
	At         time.Time
	StatusCode int
	Error      string
}

func (attemptRow) TableName() string { return "notify_attempts" }

// SaveAttempt records an attempt and the delivery's new state in one transaction.
func (s *Hooks) SaveAttempt(ctx context.Context, d notify.Delivery, a notify.Attempt) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&deliveryRow{}).Where("id = ?", d.ID).Updates(map[string]any{"status": d.Status, "attempts": d.Attempts,
			"next_attempt_at": d.NextAttempt, "sent_at": d.SentAt}).Error; err != nil {
			return err
		}
		row := attemptRow{DeliveryID: d.ID, TargetID: a.TargetID, At: a.At, StatusCode: a.StatusCode, Error: a.Error}
		return tx.Create(&row).Error
	})
}

// Attempts returns a target's latest attempts, newest first.
func (s *Hooks) Attempts(ctx context.Context, targetID int64, limit int) ([]notify.Attempt, error) {
	var rows []attemptRow
	if err := s.db.gorm.WithContext(ctx).Where("target_id = ?", targetID).Order("at DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]notify.Attempt, len(rows))
	for i, r := range rows {
		out[i] = notify.Attempt{ID: r.ID, DeliveryID: r.DeliveryID, TargetID: r.TargetID, At: r.At.UTC(), StatusCode: r.StatusCode, Error: r.Error}
	}
	return out, nil
}

// Prune deletes attempts from before t, and finished deliveries created before t.
func (s *Hooks) Prune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec("DELETE FROM notify_attempts WHERE at < ?", before)
		if res.Error != nil {
			return res.Error
		}
		n = res.RowsAffected
		return tx.Exec(`DELETE FROM notify_deliveries WHERE status <> ? AND created_at < ?
			AND NOT EXISTS (SELECT 1 FROM notify_attempts a WHERE a.delivery_id = notify_deliveries.id)`, notify.MailPending, before).Error
	})
	return n, err
}
