package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

type webhookRow struct {
	ID        int64 `gorm:"primaryKey"`
	URL       []byte
	Secret    []byte
	Events    string
	CreatedAt time.Time
}

func (webhookRow) TableName() string { return "webhooks" }

type deliveryRow struct {
	ID            int64 `gorm:"primaryKey"`
	WebhookID     int64
	EventID       int64
	Payload       string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	ResponseCode  int
	CreatedAt     time.Time
	DeliveredAt   *time.Time
}

func (deliveryRow) TableName() string { return "deliveries" }

func (r deliveryRow) domain() lifecycle.Delivery {
	return lifecycle.Delivery{ID: r.ID, WebhookID: r.WebhookID, EventID: r.EventID, Payload: []byte(r.Payload), Status: lifecycle.DeliveryStatus(r.Status), Attempts: r.Attempts,
		NextAttempt: r.NextAttemptAt.UTC(), LastError: r.LastError, ResponseCode: r.ResponseCode, CreatedAt: r.CreatedAt.UTC(), DeliveredAt: utc(r.DeliveredAt)}
}

func (r webhookRow) domain() lifecycle.Webhook {
	return lifecycle.Webhook{ID: r.ID, SealedURL: r.URL, SealedSecret: r.Secret, Events: strings.Split(r.Events, ","), CreatedAt: r.CreatedAt.UTC()}
}

// AddWebhook stores w and sets its ID.
func (s *Store) AddWebhook(ctx context.Context, w *lifecycle.Webhook) error {
	row := webhookRow{URL: w.SealedURL, Secret: w.SealedSecret, Events: strings.Join(w.Events, ","), CreatedAt: w.CreatedAt}
	if err := s.db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return err
	}
	w.ID = row.ID
	return nil
}

// ListWebhooks returns every subscription.
func (s *Store) ListWebhooks(ctx context.Context) ([]lifecycle.Webhook, error) {
	var rows []webhookRow
	if err := s.db.gorm.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]lifecycle.Webhook, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// FindWebhook returns lifecycle.ErrNotFound for an unknown id.
func (s *Store) FindWebhook(ctx context.Context, id int64) (lifecycle.Webhook, error) {
	var r webhookRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return lifecycle.Webhook{}, translate(err)
	}
	return r.domain(), nil
}

// DeleteWebhook removes a subscription and its deliveries. Returns lifecycle.ErrNotFound.
func (s *Store) DeleteWebhook(ctx context.Context, id int64) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("webhook_id = ?", id).Delete(&deliveryRow{}).Error; err != nil {
			return err
		}
		res := tx.Where("id = ?", id).Delete(&webhookRow{})
		if res.Error == nil && res.RowsAffected == 0 {
			return lifecycle.ErrNotFound
		}
		return res.Error
	})
}

// queueDeliveries adds a pending delivery of ev's payload for every webhook subscribed
// to its type, inside the event's transaction (an outbox), so none is lost to a crash.
func queueDeliveries(tx *gorm.DB, ev lifecycle.Event) error {
	if len(ev.Payload) == 0 || !slices.Contains(lifecycle.EventTypes, ev.Type) {
		return nil
	}
	var hooks []webhookRow
	if err := tx.Select("id, events").Find(&hooks).Error; err != nil {
		return err
	}
	for _, h := range hooks {
		if !slices.Contains(strings.Split(h.Events, ","), ev.Type) {
			continue
		}
		row := deliveryRow{WebhookID: h.ID, EventID: ev.ID, Payload: string(ev.Payload), Status: string(lifecycle.DeliveryPending), NextAttemptAt: ev.At, CreatedAt: ev.At}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
	}
	return nil
}

// ClaimDeliveries takes up to limit due pending deliveries, pushing each one's next
// attempt out by hold so no other worker takes it meanwhile.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, hold time.Duration, limit int) ([]lifecycle.Delivery, error) {
	var rows []deliveryRow
	if err := s.db.gorm.WithContext(ctx).Where("status = ? AND next_attempt_at <= ?", string(lifecycle.DeliveryPending), now).
		Order("next_attempt_at").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	var out []lifecycle.Delivery
	for _, r := range rows {
		res := s.db.gorm.WithContext(ctx).Model(&deliveryRow{}).Where("id = ? AND next_attempt_at = ?", r.ID, r.NextAttemptAt).
			Update("next_attempt_at", now.Add(hold))
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected == 1 {
			out = append(out, r.domain())
		}
	}
	return out, nil
}

// SaveDelivery records the outcome of an attempt.
func (s *Store) SaveDelivery(ctx context.Context, d lifecycle.Delivery) error {
	return s.db.gorm.WithContext(ctx).Model(&deliveryRow{}).Where("id = ?", d.ID).Updates(map[string]any{
		"status": string(d.Status), "attempts": d.Attempts, "next_attempt_at": d.NextAttempt, "last_error": d.LastError,
		"response_code": d.ResponseCode, "delivered_at": d.DeliveredAt}).Error
}

// ListDeliveries returns the latest deliveries, newest first; webhookID 0 means all.
func (s *Store) ListDeliveries(ctx context.Context, webhookID int64, limit int) ([]lifecycle.Delivery, error) {
	q := s.db.gorm.WithContext(ctx).Order("id DESC").Limit(limit)
	if webhookID > 0 {
		q = q.Where("webhook_id = ?", webhookID)
	}
	var rows []deliveryRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]lifecycle.Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}
