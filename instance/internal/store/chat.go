package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
)

// Chat implements chat.Store.
type Chat struct{ db *DB }

// NewChat returns the chat store of db.
func NewChat(db *DB) *Chat { return &Chat{db: db} }

var _ chat.Store = (*Chat)(nil)

type conversationRow struct {
	ID               int64 `gorm:"primaryKey"`
	VisitorTokenHash string
	VisitorName      string
	VisitorEmail     string
	Status           string
	AssigneeID       *int64
	LastSeq          int64
	Origin           string
	StartedAt        time.Time
	FirstResponseAt  *time.Time
	ClosedAt         *time.Time
	UpdatedAt        time.Time
}

func (conversationRow) TableName() string { return "chat_conversations" }

func (r conversationRow) domain() chat.Conversation {
	return chat.Conversation{ID: r.ID, VisitorName: r.VisitorName, VisitorEmail: r.VisitorEmail, Status: r.Status, AssigneeID: r.AssigneeID,
		LastSeq: r.LastSeq, Origin: r.Origin, StartedAt: r.StartedAt.UTC(), FirstResponseAt: utcPtr(r.FirstResponseAt), ClosedAt: utcPtr(r.ClosedAt),
		UpdatedAt: r.UpdatedAt.UTC()}
}

type chatMessageRow struct {
	ID             int64 `gorm:"primaryKey"`
	ConversationID int64
	Seq            int64
	Author         string
	AuthorUserID   *int64
	Body           string
	ClientID       string
	CreatedAt      time.Time
}

func (chatMessageRow) TableName() string { return "chat_messages" }

func (r chatMessageRow) domain() chat.Message {
	return chat.Message{ID: r.ID, ConversationID: r.ConversationID, Seq: r.Seq, Author: chat.Author(r.Author), AuthorUserID: r.AuthorUserID,
		Body: r.Body, ClientID: r.ClientID, CreatedAt: r.CreatedAt.UTC()}
}

// CreateConversation stores c and sets its ID.
func (s *Chat) CreateConversation(ctx context.Context, c *chat.Conversation, tokenHash string) error {
	row := conversationRow{VisitorTokenHash: tokenHash, VisitorName: c.VisitorName, VisitorEmail: c.VisitorEmail, Status: c.Status,
		Origin: c.Origin, StartedAt: c.StartedAt, UpdatedAt: c.UpdatedAt}
	if err := s.db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err)
	}
	c.ID = row.ID
	return nil
}

// FindByToken returns accounts.ErrNotFound for an unknown token hash.
func (s *Chat) FindByToken(ctx context.Context, tokenHash string) (chat.Conversation, error) {
	var r conversationRow
	if err := s.db.gorm.WithContext(ctx).Where("visitor_token_hash = ?", tokenHash).Take(&r).Error; err != nil {
		return chat.Conversation{}, translate(err)
	}
	return r.domain(), nil
}

// FindConversation returns accounts.ErrNotFound for an unknown id.
func (s *Chat) FindConversation(ctx context.Context, id int64) (chat.Conversation, error) {
	var r conversationRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return chat.Conversation{}, translate(err)
	}
	return r.domain(), nil
}

// Append gives m the conversation's next sequence number and stores it, in one
// transaction; the row lock on the conversation orders concurrent senders. A client id
// seen before returns the stored message instead (dup).
func (s *Chat) Append(ctx context.Context, m *chat.Message) (bool, error) {
	err := s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// A visitor writing into a closed conversation opens it again.
		res := tx.Exec(`UPDATE chat_conversations SET last_seq = last_seq + 1, updated_at = ?,
			first_response_at = CASE WHEN ? = 'agent' AND first_response_at IS NULL THEN ? ELSE first_response_at END,
			status = CASE WHEN ? = 'visitor' THEN 'open' ELSE status END,
			closed_at = CASE WHEN ? = 'visitor' THEN NULL ELSE closed_at END
			WHERE id = ?`, m.CreatedAt, string(m.Author), m.CreatedAt, string(m.Author), string(m.Author), m.ConversationID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return accounts.ErrNotFound
		}
		var seq int64
		if err := tx.Raw("SELECT last_seq FROM chat_conversations WHERE id = ?", m.ConversationID).Scan(&seq).Error; err != nil {
			return err
		}
		row := chatMessageRow{ConversationID: m.ConversationID, Seq: seq, Author: string(m.Author), AuthorUserID: m.AuthorUserID, Body: m.Body,
			ClientID: m.ClientID, CreatedAt: m.CreatedAt}
		if err := tx.Create(&row).Error; err != nil {
			return translate(err)
		}
		*m = row.domain()
		return nil
	})
	if errors.Is(err, accounts.ErrConflict) && m.ClientID != "" {
		var r chatMessageRow
		if ferr := s.db.gorm.WithContext(ctx).Where("conversation_id = ? AND client_id = ?", m.ConversationID, m.ClientID).Take(&r).Error; ferr != nil {
			return false, translate(ferr)
		}
		*m = r.domain()
		return true, nil
	}
	return false, err
}

// After returns messages with seq > after, in order.
func (s *Chat) After(ctx context.Context, conversationID, after int64, limit int) ([]chat.Message, error) {
	var rows []chatMessageRow
	if err := s.db.gorm.WithContext(ctx).Where("conversation_id = ? AND seq > ?", conversationID, after).Order("seq").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]chat.Message, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// SetStatus opens or closes a conversation; closedAt is when, or nil when opened.
// Returns accounts.ErrNotFound for an unknown id.
func (s *Chat) SetStatus(ctx context.Context, id int64, status string, closedAt *time.Time, at time.Time) error {
	res := s.db.gorm.WithContext(ctx).Model(&conversationRow{}).Where("id = ?", id).
		Updates(map[string]any{"status": status, "closed_at": closedAt, "updated_at": at})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return accounts.ErrNotFound
	}
	return nil
}

// ListConversations returns conversations with the status ("" for all), the most
// recently active first.
func (s *Chat) ListConversations(ctx context.Context, status string, limit int) ([]chat.Conversation, error) {
	q := s.db.gorm.WithContext(ctx).Order("updated_at DESC, id DESC").Limit(limit)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	var rows []conversationRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]chat.Conversation, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}
