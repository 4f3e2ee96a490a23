package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

// Webhook is a billing subscription. URL and Secret are sealed by the caller.
type Webhook struct {
	ID        int64
	URL       []byte
	Secret    []byte
	Events    []string
	CreatedAt time.Time
}

type webhookRow struct {
	ID        int64 `gorm:"primaryKey"`
	URL       []byte
	Secret    []byte
	Events    string
	CreatedAt time.Time
}

func (webhookRow) TableName() string { return "webhooks" }

// Delivery is one event on its way to one webhook.
type Delivery struct {
	ID           int64
	WebhookID    int64
	EventID      int64
	Payload      string
	Status       string // pending, delivered, failed
	Attempts     int
	NextAttempt  time.Time
	LastError    string
	ResponseCode int
	CreatedAt    time.Time
	DeliveredAt  *time.Time
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

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

func (r deliveryRow) domain() Delivery {
	return Delivery{ID: r.ID, WebhookID: r.WebhookID, EventID: r.EventID, Payload: r.Payload, Status: r.Status, Attempts: r.Attempts,
		NextAttempt: r.NextAttemptAt.UTC(), LastError: r.LastError, ResponseCode: r.ResponseCode, CreatedAt: r.CreatedAt.UTC(), DeliveredAt: utc(r.DeliveredAt)}
}

// AddWebhook stores w and sets its ID.
func (s *Store) AddWebhook(ctx context.Context, w *Webhook) error {
	row := webhookRow{URL: w.URL, Secret: w.Secret, Events: strings.Join(w.Events, ","), CreatedAt: w.CreatedAt}
	if err := s.db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return err
	}
	w.ID = row.ID
	return nil
}

// ListWebhooks returns every subscription.
func (s *Store) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var rows []webhookRow
	if err := s.db.gorm.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Webhook, len(rows))
	for i, r := range rows {
		out[i] = Webhook{ID: r.ID, URL: r.URL, Secret: r.Secret, Events: strings.Split(r.Events, ","), CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// FindWebhook returns lifecycle.ErrNotFound for an unknown id.
func (s *Store) FindWebhook(ctx context.Context, id int64) (Webhook, error) {
	var r webhookRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Webhook{}, translate(err)
	}
	return Webhook{ID: r.ID, URL: r.URL, Secret: r.Secret, Events: strings.Split(r.Events, ","), CreatedAt: r.CreatedAt.UTC()}, nil
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

// queueDeliveries adds a pending delivery of ev for every webhook subscribed to its
// type, inside the event's transaction.
func (s *Store) queueDeliveries(tx *gorm.DB, ev lifecycle.Event, inst lifecycle.Instance) error {
	if s.opts.Payload == nil || !slices.Contains(lifecycle.EventTypes, ev.Type) {
		return nil
	}
	var hooks []webhookRow
	if err := tx.Select("id, events").Find(&hooks).Error; err != nil {
		return err
	}
	var payload string
	for _, h := range hooks {
		if !slices.Contains(strings.Split(h.Events, ","), ev.Type) {
			continue
		}
		if payload == "" {
			payload = string(s.opts.Payload(ev, inst))
		}
		row := deliveryRow{WebhookID: h.ID, EventID: ev.ID, Payload: payload, Status: DeliveryPending, NextAttemptAt: ev.At, CreatedAt: ev.At}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
	}
	return nil
}

// ClaimDeliveries takes up to limit due pending deliveries, pushing each one's next
// attempt out by hold so no other worker takes it meanwhile.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, hold time.Duration, limit int) ([]Delivery, error) {
	var rows []deliveryRow
	if err := s.db.gorm.WithContext(ctx).Where("status = ? AND next_attempt_at <= ?", DeliveryPending, now).
		Order("next_attempt_at").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	var out []Delivery
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
func (s *Store) SaveDelivery(ctx context.Context, d Delivery) error {
	return s.db.gorm.WithContext(ctx).Model(&deliveryRow{}).Where("id = ?", d.ID).Updates(map[string]any{
		"status": d.Status, "attempts": d.Attempts, "next_attempt_at": d.NextAttempt, "last_error": d.LastError,
		"response_code": d.ResponseCode, "delivered_at": d.DeliveredAt}).Error
}

// ListDeliveries returns the latest deliveries, newest first; webhookID 0 means all.
func (s *Store) ListDeliveries(ctx context.Context, webhookID int64, limit int) ([]Delivery, error) {
	q := s.db.gorm.WithContext(ctx).Order("id DESC").Limit(limit)
	if webhookID > 0 {
		q = q.Where("webhook_id = ?", webhookID)
	}
	var rows []deliveryRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}
