package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
)

// Chat implements chat.Store.
type Chat struct {
	db      *DB
	appends appendQueue
}

// NewChat returns the chat store of db.
func NewChat(db *DB) *Chat { return &Chat{db: db, appends: appendQueue{db: db}} }

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
	ReadSeq          int64
	Unread           int64 `gorm:"->;-:migration"` // only read, by the list's subquery
}

func (conversationRow) TableName() string { return "chat_conversations" }

func (r conversationRow) domain() chat.Conversation {
	return chat.Conversation{ID: r.ID, VisitorName: r.VisitorName, VisitorEmail: r.VisitorEmail, Status: r.Status, AssigneeID: r.AssigneeID,
		LastSeq: r.LastSeq, Origin: r.Origin, StartedAt: r.StartedAt.UTC(), FirstResponseAt: utcPtr(r.FirstResponseAt), ClosedAt: utcPtr(r.ClosedAt),
		UpdatedAt: r.UpdatedAt.UTC(), ReadSeq: r.ReadSeq, Unread: r.Unread}
}

type chatMessageRow struct {
	ID             int64 `gorm:"primaryKey"`
	ConversationID int64
	Seq            int64
	Author         string
	AuthorUserID   *int64
	Body           string
	ClientID       string
	Internal       bool
	AttachmentID   *int64
	CreatedAt      time.Time
}

func (chatMessageRow) TableName() string { return "chat_messages" }

func (r chatMessageRow) domain() chat.Message {
	return chat.Message{ID: r.ID, ConversationID: r.ConversationID, Seq: r.Seq, Author: chat.Author(r.Author), AuthorUserID: r.AuthorUserID,
		Body: r.Body, ClientID: r.ClientID, Internal: r.Internal, CreatedAt: r.CreatedAt.UTC()}
}

type chatAttachmentRow struct {
	ID             int64 `gorm:"primaryKey"`
	ConversationID int64
	Filename       string
	ContentType    string
	Size           int64
	SHA256         string `gorm:"column:sha256"`
	CreatedAt      time.Time
}

func (chatAttachmentRow) TableName() string { return "chat_attachments" }

func (r chatAttachmentRow) domain() *chat.Attachment {
	return &chat.Attachment{ID: r.ID, ConversationID: r.ConversationID, Filename: r.Filename, ContentType: r.ContentType, Size: r.Size,
		SHA256: r.SHA256, CreatedAt: r.CreatedAt.UTC()}
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

// FindByToken returns instance.ErrNotFound for an unknown token hash.
func (s *Chat) FindByToken(ctx context.Context, tokenHash string) (chat.Conversation, error) {
	var r conversationRow
	if err := s.db.gorm.WithContext(ctx).Where("visitor_token_hash = ?", tokenHash).Take(&r).Error; err != nil {
		return chat.Conversation{}, translate(err)
	}
	return r.domain(), nil
}

// conversations selects conversations with their unread counts: the visitor's
// messages after what the team has read.
func (s *Chat) conversations(ctx context.Context) *gorm.DB {
	return s.db.gorm.WithContext(ctx).Model(&conversationRow{}).Select(`chat_conversations.*, (SELECT COUNT(*) FROM chat_messages m
		WHERE m.conversation_id = chat_conversations.id AND m.seq > chat_conversations.read_seq AND m.author = 'visitor') AS unread`)
}

// FindConversation returns instance.ErrNotFound for an unknown id.
func (s *Chat) FindConversation(ctx context.Context, id int64) (chat.Conversation, error) {
	var r conversationRow
	if err := s.conversations(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return chat.Conversation{}, translate(err)
	}
	return r.domain(), nil
}

// After returns messages with seq > after, in order; notes only when internal.
func (s *Chat) After(ctx context.Context, conversationID, after int64, limit int, internal bool) ([]chat.Message, error) {
	q := s.db.gorm.WithContext(ctx).Where("conversation_id = ? AND seq > ?", conversationID, after)
	if !internal {
		q = q.Where("internal = ?", false)
	}
	var rows []chatMessageRow
	if err := q.Order("seq").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	return s.withAttachments(ctx, rows)
}

// withAttachments turns rows into messages with their files, in one query for all.
func (s *Chat) withAttachments(ctx context.Context, rows []chatMessageRow) ([]chat.Message, error) {
	var ids []int64
	for _, r := range rows {
		if r.AttachmentID != nil {
			ids = append(ids, *r.AttachmentID)
		}
	}
	files := map[int64]*chat.Attachment{}
	if len(ids) > 0 {
		var atts []chatAttachmentRow
		if err := s.db.gorm.WithContext(ctx).Where("id IN ?", ids).Find(&atts).Error; err != nil {
			return nil, err
		}
		for _, a := range atts {
			files[a.ID] = a.domain()
		}
	}
	out := make([]chat.Message, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
		if r.AttachmentID != nil {
			out[i].Attachment = files[*r.AttachmentID]
		}
	}
	return out, nil
}

// FindAttachment returns instance.ErrNotFound for an unknown id.
func (s *Chat) FindAttachment(ctx context.Context, id int64) (chat.Attachment, error) {
	var r chatAttachmentRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return chat.Attachment{}, translate(err)
	}
	return *r.domain(), nil
}

// SetStatus opens or closes a conversation; closedAt is when, or nil when opened.
// Returns instance.ErrNotFound for an unknown id.
func (s *Chat) SetStatus(ctx context.Context, id int64, status string, closedAt *time.Time, at time.Time) error {
	res := s.db.gorm.WithContext(ctx).Model(&conversationRow{}).Where("id = ?", id).
		Updates(map[string]any{"status": status, "closed_at": closedAt, "updated_at": at})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return instance.ErrNotFound
	}
	return nil
}

// ListConversations returns conversations with the status ("" for all), the most
// recently active first.
func (s *Chat) ListConversations(ctx context.Context, status string, limit int) ([]chat.Conversation, error) {
	q := s.conversations(ctx).Order("updated_at DESC, id DESC").Limit(limit)
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

// Assign sets a conversation's assignee (nil for nobody). Returns instance.ErrNotFound.
func (s *Chat) Assign(ctx context.Context, id int64, assignee *int64, at time.Time) error {
	res := s.db.gorm.WithContext(ctx).Model(&conversationRow{}).Where("id = ?", id).
		Updates(map[string]any{"assignee_id": assignee, "updated_at": at})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return instance.ErrNotFound
	}
	return nil
}

// MarkRead moves read_seq forward to seq, never past last_seq. Returns
// instance.ErrNotFound for an unknown id.
func (s *Chat) MarkRead(ctx context.Context, id, seq int64) error {
	if _, err := s.FindConversation(ctx, id); err != nil {
		return err
	}
	return s.db.gorm.WithContext(ctx).Exec(`UPDATE chat_conversations SET read_seq = CASE WHEN ? > last_seq THEN last_seq ELSE ? END
		WHERE id = ? AND read_seq < ?`, seq, seq, id, seq).Error
}

type chatAgentRow struct {
	UserID         int64 `gorm:"primaryKey;autoIncrement:false"`
	Status         string
	MaxChats       int
	LastAssignedAt *time.Time
}

func (chatAgentRow) TableName() string { return "chat_agents" }

// AgentSettings returns each user's settings, the defaults for those never set.
func (s *Chat) AgentSettings(ctx context.Context, userIDs []int64) (map[int64]chat.AgentSettings, error) {
	out := make(map[int64]chat.AgentSettings, len(userIDs))
	for _, id := range userIDs {
		out[id] = chat.AgentSettings{UserID: id, Status: chat.Online, MaxChats: chat.DefaultMaxChats}
	}
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []chatAgentRow
	if err := s.db.gorm.WithContext(ctx).Where("user_id IN ?", userIDs).Find(&rows).Error; err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.UserID] = chat.AgentSettings{UserID: r.UserID, Status: r.Status, MaxChats: r.MaxChats, LastAssignedAt: utcPtr(r.LastAssignedAt)}
	}
	return out, nil
}

// SetAgentSettings stores an agent's settings, whole.
func (s *Chat) SetAgentSettings(ctx context.Context, a chat.AgentSettings) error {
	row := chatAgentRow{UserID: a.UserID, Status: a.Status, MaxChats: a.MaxChats, LastAssignedAt: a.LastAssignedAt}
	return translate(s.db.gorm.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"status", "max_chats", "last_assigned_at"})}).Create(&row).Error)
}

// OpenChats counts each user's open assigned conversations.
func (s *Chat) OpenChats(ctx context.Context, userIDs []int64) (map[int64]int, error) {
	out := map[int64]int{}
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		AssigneeID int64
		N          int
	}
	err := s.db.gorm.WithContext(ctx).Raw(`SELECT assignee_id, COUNT(*) AS n FROM chat_conversations
		WHERE status = 'open' AND assignee_id IN ? GROUP BY assignee_id`, userIDs).Scan(&rows).Error
	for _, r := range rows {
		out[r.AssigneeID] = r.N
	}
	return out, err
}

type cannedRow struct {
	ID        int64 `gorm:"primaryKey"`
	Shortcut  string
	Body      string
	CreatedAt time.Time
}

func (cannedRow) TableName() string { return "chat_canned" }

// ListCanned returns every canned response by shortcut.
func (s *Chat) ListCanned(ctx context.Context) ([]chat.Canned, error) {
	var rows []cannedRow
	if err := s.db.gorm.WithContext(ctx).Order("shortcut").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]chat.Canned, len(rows))
	for i, r := range rows {
		out[i] = chat.Canned{ID: r.ID, Shortcut: r.Shortcut, Body: r.Body, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// CreateCanned stores c and sets its ID. Returns instance.ErrConflict for a shortcut in use.
func (s *Chat) CreateCanned(ctx context.Context, c *chat.Canned) error {
	row := cannedRow{Shortcut: c.Shortcut, Body: c.Body, CreatedAt: c.CreatedAt}
	if err := s.db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err)
	}
	c.ID = row.ID
	return nil
}

// DeleteCanned returns instance.ErrNotFound for an unknown id.
func (s *Chat) DeleteCanned(ctx context.Context, id int64) error {
	res := s.db.gorm.WithContext(ctx).Delete(&cannedRow{}, id)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return instance.ErrNotFound
	}
	return nil
}

// TakeUnanswered marks and returns, in one statement, the open conversations started
// before t with a visitor message, no first response and no notice yet.
func (s *Chat) TakeUnanswered(ctx context.Context, before, now time.Time) ([]chat.Conversation, error) {
	var rows []conversationRow
	err := s.db.gorm.WithContext(ctx).Raw(`UPDATE chat_conversations SET unanswered_notified_at = ?
		WHERE status = 'open' AND first_response_at IS NULL AND unanswered_notified_at IS NULL AND started_at < ?
		AND EXISTS (SELECT 1 FROM chat_messages m WHERE m.conversation_id = chat_conversations.id AND m.author = 'visitor')
		RETURNING *`, now, before).Scan(&rows).Error
	out := make([]chat.Conversation, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, err
}
