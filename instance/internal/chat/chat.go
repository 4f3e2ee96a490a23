// Package chat is live chat between a website visitor and the team. A message is stored
// (and given its per-conversation sequence number) before anyone is told of it; a
// client that reconnects asks for everything after the last number it saw, so nothing
// is lost, and a resent message carries its client id, so nothing is doubled.
package chat

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Author of a message.
type Author string

// Who writes.
const (
	Visitor Author = "visitor"
	Agent   Author = "agent"
	System  Author = "system"
)

// Conversation is one chat.
type Conversation struct {
	ID              int64
	VisitorName     string
	VisitorEmail    string
	Status          string // open, closed
	AssigneeID      *int64
	LastSeq         int64
	Origin          string
	StartedAt       time.Time
	FirstResponseAt *time.Time
	ClosedAt        *time.Time
	UpdatedAt       time.Time
	ReadSeq         int64 // the last sequence number the team has read
	Unread          int64 // visitor messages after ReadSeq; filled by lists
}

// Message is one line of a conversation.
type Message struct {
	ID             int64
	ConversationID int64
	Seq            int64
	Author         Author
	AuthorUserID   *int64
	Body           string
	ClientID       string
	Internal       bool        // a note among the team; the visitor never sees it
	Attachment     *Attachment // a file sent in this message; Body is its name
	CreatedAt      time.Time
}

// MaxBody bounds one message.
const MaxBody = 4000

// Store is what chat needs of persistence.
type Store interface {
	// CreateConversation stores c with the hash of its visitor token.
	CreateConversation(ctx context.Context, c *Conversation, tokenHash string) error
	// FindByToken returns instance.ErrNotFound for an unknown token hash.
	FindByToken(ctx context.Context, tokenHash string) (Conversation, error)
	FindConversation(ctx context.Context, id int64) (Conversation, error)
	// Append stores m with the conversation's next sequence number, in one transaction.
	// A message whose client id the conversation already has is not stored again: the
	// stored one is returned, and dup is true.
	Append(ctx context.Context, m *Message) (dup bool, err error)
	// After returns up to limit messages with seq > after, in order; internal notes
	// only when internal is true.
	After(ctx context.Context, conversationID, after int64, limit int, internal bool) ([]Message, error)
	// SetStatus opens or closes a conversation. Returns instance.ErrNotFound.
	SetStatus(ctx context.Context, id int64, status string, closedAt *time.Time, at time.Time) error
	// ListConversations lists conversations with a status ("" for all), newest activity
	// first, each with its unread count.
	ListConversations(ctx context.Context, status string, limit int) ([]Conversation, error)
	// Assign gives a conversation to a user, or to nobody. Returns instance.ErrNotFound.
	Assign(ctx context.Context, id int64, assignee *int64, at time.Time) error
	// TakeUnanswered returns the open conversations started before t with a visitor
	// message, no answer and no notice yet, and marks them noticed at now.
	TakeUnanswered(ctx context.Context, before, now time.Time) ([]Conversation, error)
	// MarkRead records that the team has read up to seq (never backwards, never past
	// the last message). Returns instance.ErrNotFound.
	MarkRead(ctx context.Context, id, seq int64) error

	AgentStore
	CannedStore
	AttachmentStore
}

// Conversation states.
const (
	Open   = "open"
	Closed = "closed"
)

// Service is the chat's use cases.
type Service struct {
	store Store
	clock clock.Clock
	hub   *Hub
	// order holds a conversation's store-then-publish together, so its messages reach
	// subscribers in sequence order. Striped: a lock per conversation would grow forever.
	order [256]sync.Mutex
	// assignMu makes the round-robin one decision at a time.
	assignMu sync.Mutex
	files    Files
	log      *slog.Logger
	events   Events
}

// Options are the service's optional parts.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// Files stores attachments; without it Attach refuses.
	Files Files
	// Events hears of new conversations (notifications); optional.
	Events Events
}

// Events hears what happens in the chat.
type Events interface {
	ChatStarted(ctx context.Context, c Conversation) error
}

// NewService returns the service; it publishes every stored message on hub.
func NewService(s Store, hub *Hub, o Options) *Service {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: s, clock: o.Clock, hub: hub, files: o.Files, log: o.Logger, events: o.Events}
}

// Hub returns the service's hub.
func (s *Service) Hub() *Hub { return s.hub }

// Start opens a conversation for a visitor and returns it with the visitor's token: the
// only key to it, shown once, stored as a hash. The e-mail address is optional.
// Returns an Invalid *instance.Error for a name that is too long or holds control
// characters, or an address that is not a bare e-mail address.
func (s *Service) Start(ctx context.Context, name, email, origin string) (Conversation, string, error) {
	p := instance.Fields{}
	name, email = strings.TrimSpace(name), accounts.NormalizeEmail(email)
	switch {
	case utf8.RuneCountInString(name) > 100:
		p.Add("name", "too_long", "is longer than %d characters", 100)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		p.Add("name", "control_chars", "contains control characters")
	}
	// The address receives the transcript: the same check as the contact form's.
	if email != "" && !accounts.ValidEmail(email) {
		p.Add("email", "email", "is not a valid e-mail address")
	}
	if err := p.Err(); err != nil {
		return Conversation{}, "", err
	}
	now := s.clock.Now()
	token := accounts.NewSecret()
	c := Conversation{VisitorName: name, VisitorEmail: email, Status: "open", Origin: origin, StartedAt: now, UpdatedAt: now}
	if err := s.store.CreateConversation(ctx, &c, accounts.HashSecret(token)); err != nil {
		return Conversation{}, "", fmt.Errorf("start conversation: %w", err)
	}
	if _, err := s.autoAssign(ctx, c.ID); err != nil {
		// The conversation stands: unassigned, it waits in the queue every agent sees.
		s.log.ErrorContext(ctx, "assign new conversation", "conversation_id", c.ID, "error", err.Error())
	}
	if updated, err := s.updated(ctx, c.ID, true); err == nil {
		c = updated
	}
	if s.events != nil {
		if err := s.events.ChatStarted(ctx, c); err != nil {
			s.log.ErrorContext(ctx, "tell of new conversation", "conversation_id", c.ID, "error", err.Error())
		}
	}
	return c, token, nil
}

// ByToken resolves a visitor's token to their conversation. Returns
// instance.ErrNotFound for any other token.
func (s *Service) ByToken(ctx context.Context, token string) (Conversation, error) {
	return s.store.FindByToken(ctx, accounts.HashSecret(token))
}

// Send stores a message and then publishes it. It returns the stored message; for a
// resend (a client id seen before) the first copy, unpublished again.
func (s *Service) Send(ctx context.Context, conv int64, author Author, userID *int64, body, clientID string) (Message, error) {
	return s.Post(ctx, Message{ConversationID: conv, Author: author, AuthorUserID: userID, Body: body, ClientID: clientID})
}

// Note stores an internal note: a message among the team that the visitor never sees.
func (s *Service) Note(ctx context.Context, conv int64, userID *int64, body, clientID string) (Message, error) {
	return s.Post(ctx, Message{ConversationID: conv, Author: Agent, AuthorUserID: userID, Body: body, ClientID: clientID, Internal: true})
}

// Post stores m (its conversation, author, body, client id, internal flag and
// attachment set by the caller) and then publishes it, as Send does. Visitors never
// write notes.
func (s *Service) Post(ctx context.Context, m Message) (Message, error) {
	p := instance.Fields{}
	if strings.TrimSpace(m.Body) == "" {
		p.Add("body", "required", "is required")
	} else if utf8.RuneCountInString(m.Body) > MaxBody {
		p.Add("body", "too_long", "is longer than %d characters", MaxBody)
	}
	if len(m.ClientID) > 64 {
		p.Add("client_id", "too_long", "is longer than %d characters", 64)
	}
	if m.Internal && m.Author == Visitor {
		p.Add("internal", "visitor_note", "visitors cannot write notes")
	}
	if err := p.Err(); err != nil {
		return Message{}, err
	}
	lock := &s.order[uint64(m.ConversationID)%uint64(len(s.order))]
	lock.Lock()
	defer lock.Unlock()
	m.CreatedAt = s.clock.Now()
	dup, err := s.store.Append(ctx, &m)
	if err != nil {
		return Message{}, fmt.Errorf("store chat message: %w", err)
	}
	if !dup && s.hub != nil {
		s.hub.Publish(m)
	}
	return m, nil
}

// Conversation returns one conversation. Returns instance.ErrNotFound.
func (s *Service) Conversation(ctx context.Context, id int64) (Conversation, error) {
	return s.store.FindConversation(ctx, id)
}

// After returns the messages an agent missed: those after seq, notes included.
func (s *Service) After(ctx context.Context, conv, seq int64) ([]Message, error) {
	return s.store.After(ctx, conv, seq, 1000, true)
}

// ForVisitor returns the messages after seq that the visitor may see: no notes.
func (s *Service) ForVisitor(ctx context.Context, conv, seq int64) ([]Message, error) {
	return s.store.After(ctx, conv, seq, 1000, false)
}

// Close ends a conversation and records when, for the reports; the visitor is told by a
// system message. Closing a closed conversation changes nothing.
func (s *Service) Close(ctx context.Context, id int64) (Conversation, error) {
	return s.setStatus(ctx, id, Closed, "The conversation was closed.")
}

// Reopen opens a closed conversation again.
func (s *Service) Reopen(ctx context.Context, id int64) (Conversation, error) {
	return s.setStatus(ctx, id, Open, "The conversation was reopened.")
}

func (s *Service) setStatus(ctx context.Context, id int64, status, note string) (Conversation, error) {
	c, err := s.store.FindConversation(ctx, id)
	if err != nil || c.Status == status {
		return c, err
	}
	now := s.clock.Now()
	var closedAt *time.Time
	if status == Closed {
		closedAt = &now
	}
	if err := s.store.SetStatus(ctx, id, status, closedAt, now); err != nil {
		return Conversation{}, err
	}
	if _, err := s.Send(ctx, id, System, nil, note, ""); err != nil {
		return Conversation{}, err
	}
	return s.updated(ctx, id, false)
}

// List returns conversations with a status ("" for all), newest activity first.
func (s *Service) List(ctx context.Context, status string, limit int) ([]Conversation, error) {
	if status != "" && status != Open && status != Closed {
		return nil, instance.InvalidField("status", "one_of", "must be %s", "open or closed")
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	return s.store.ListConversations(ctx, status, limit)
}

// Transcript renders msgs one line each, "[time] who: body", the time in UTC with layout
// and who as the caller names each author.
func Transcript(msgs []Message, layout string, who func(Author) string) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "[%s] %s: %s\n", m.CreatedAt.UTC().Format(layout), who(m.Author), m.Body)
	}
	return b.String()
}

// TakeUnanswered returns the open conversations waiting since before t for a first
// answer that nobody was told of yet, and marks them told: each is returned once.
func (s *Service) TakeUnanswered(ctx context.Context, before time.Time) ([]Conversation, error) {
	return s.store.TakeUnanswered(ctx, before, s.clock.Now())
}
