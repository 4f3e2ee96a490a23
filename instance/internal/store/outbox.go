package store

import (
	"context"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/notify"
)

// Outbox implements notify.OutboxStore.
type Outbox struct{ db *DB }

// NewOutbox returns the outbox of db.
func NewOutbox(db *DB) *Outbox { return &Outbox{db: db} }

var _ notify.OutboxStore = (*Outbox)(nil)

type outboxRow struct {
	ID             int64 `gorm:"primaryKey"`
	ToAddr         string
	Subject        string
	Body           string
	MessageID      string
	InReplyTo      string
	Kind           string
	AttachmentName string
	AttachmentType string
	AttachmentBody string
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	LastError      string
	CreatedAt      time.Time
	SentAt         *time.Time
}

func (outboxRow) TableName() string { return "outbox" }

func (r outboxRow) domain() notify.Mail {
	return notify.Mail{ID: r.ID, To: r.ToAddr, Subject: r.Subject, Body: r.Body, MessageID: r.MessageID, InReplyTo: r.InReplyTo, Kind: r.Kind,
		AttachmentName: r.AttachmentName, AttachmentType: r.AttachmentType, AttachmentBody: r.AttachmentBody, Status: r.Status, Attempts: r.Attempts, NextAttempt: r.NextAttemptAt.UTC(), LastError: r.LastError, CreatedAt: r.CreatedAt.UTC(), SentAt: utcPtr(r.SentAt)}
}

// EnqueueMail stores m and sets its ID.
func (s *Outbox) EnqueueMail(ctx context.Context, m *notify.Mail) error {
	row := outboxRow{ToAddr: m.To, Subject: m.Subject, Body: m.Body, MessageID: m.MessageID, InReplyTo: m.InReplyTo, Kind: m.Kind,
		AttachmentName: m.AttachmentName, AttachmentType: m.AttachmentType, AttachmentBody: m.AttachmentBody, Status: m.Status, NextAttemptAt: m.NextAttempt, CreatedAt: m.CreatedAt}
	if err := s.db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err)
	}
	m.ID = row.ID
	return nil
}

// ClaimMail takes up to limit due messages, holding each for hold against other workers.
func (s *Outbox) ClaimMail(ctx context.Context, now time.Time, hold time.Duration, limit int) ([]notify.Mail, error) {
	rows, err := claimDue[outboxRow](ctx, s.db, now, hold, limit)
	out := make([]notify.Mail, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, err
}

// queueRow is a row of a delivery queue (the outbox, notification deliveries).
type queueRow interface {
	outboxRow | deliveryRow
	key() (id int64, next time.Time)
}

func (r outboxRow) key() (int64, time.Time)   { return r.ID, r.NextAttemptAt }
func (r deliveryRow) key() (int64, time.Time) { return r.ID, r.NextAttemptAt }

// claimDue takes up to limit pending rows due by now, holding each for hold: a row
// goes to the worker whose update moves its next attempt, so two never send one.
func claimDue[R queueRow](ctx context.Context, db *DB, now time.Time, hold time.Duration, limit int) ([]R, error) {
	var rows []R
	if err := db.gorm.WithContext(ctx).Where("status = ? AND next_attempt_at <= ?", notify.MailPending, now).
		Order("next_attempt_at, id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	var out []R
	for _, r := range rows {
		id, next := r.key()
		res := db.gorm.WithContext(ctx).Model(new(R)).Where("id = ? AND next_attempt_at = ?", id, next).Update("next_attempt_at", now.Add(hold))
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected == 1 {
			out = append(out, r)
		}
	}
	return out, nil
}

// releaseClaimed gives back claimed rows no worker attempted: each is due again at
// next, the time it was due before the claim.
func releaseClaimed[R queueRow](ctx context.Context, db *DB, next map[int64]time.Time) error {
	for id, at := range next {
		if err := db.gorm.WithContext(ctx).Model(new(R)).Where("id = ? AND status = ?", id, notify.MailPending).
			Update("next_attempt_at", at).Error; err != nil {
			return err
		}
	}
	return nil
}

// ReleaseMail gives back claimed messages that were not attempted.
func (s *Outbox) ReleaseMail(ctx context.Context, ms []notify.Mail) error {
	next := make(map[int64]time.Time, len(ms))
	for _, m := range ms {
		next[m.ID] = m.NextAttempt
	}
	return releaseClaimed[outboxRow](ctx, s.db, next)
}

// SaveMail records an attempt's outcome.
func (s *Outbox) SaveMail(ctx context.Context, m notify.Mail) error {
	return s.db.gorm.WithContext(ctx).Model(&outboxRow{}).Where("id = ?", m.ID).Updates(map[string]any{
		"status": m.Status, "attempts": m.Attempts, "next_attempt_at": m.NextAttempt, "last_error": m.LastError, "sent_at": m.SentAt}).Error
}

// ListMail returns the latest messages, newest first.
func (s *Outbox) ListMail(ctx context.Context, limit int) ([]notify.Mail, error) {
	var rows []outboxRow
	if err := s.db.gorm.WithContext(ctx).Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]notify.Mail, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}
