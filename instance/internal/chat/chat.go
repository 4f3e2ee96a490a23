// Package chat is live chat between a website visitor and the team. A message is stored
// (and given its per-conversation sequence number) before anyone is told of it; a
// client that reconnects asks for everything after the last number it saw, so nothing
// is lost, and a resent message carries its client id, so nothing is doubled.
package chat

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/clock"
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
	CreatedAt      time.Time
}

// MaxBody bounds one message.
const MaxBody = 4000

// Store is what chat needs of persistence.
type Store interface {
	// CreateConversation stores c with the hash of its visitor token.
	CreateConversation(ctx context.Context, c *Conversation, tokenHash string) error
	// FindByToken returns accounts.ErrNotFound for an unknown token hash.
	FindByToken(ctx context.Context, tokenHash string) (Conversation, error)
	FindConversation(ctx context.Context, id int64) (Conversation, error)
	// Append stores m with the conversation's next sequence number, in one transaction.
	// A message whose client id the conversation already has is not stored again: the
	// stored one is returned, and dup is true.
	Append(ctx context.Context, m *Message) (dup bool, err error)
	// After returns up to limit messages with seq > after, in order.
	After(ctx context.Context, conversationID, after int64, limit int) ([]Message, error)
	// SetStatus opens or closes a conversation. Returns accounts.ErrNotFound.
	SetStatus(ctx context.Context, id int64, status string, closedAt *time.Time, at time.Time) error
	// ListConversations lists conversations with a status ("" for all), newest activity first.
	ListConversations(ctx context.Context, status string, limit int) ([]Conversation, error)
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
}

// NewService returns the service; it publishes every stored message on hub.
func NewService(s Store, c clock.Clock, hub *Hub) *Service {
	if c == nil {
		c = clock.Real{}
	}
	return &Service{store: s, clock: c, hub: hub}
}

// Hub returns the service's hub.
func (s *Service) Hub() *Hub { return s.hub }

// Start opens a conversation for a visitor and returns it with the visitor's token: the
// only key to it, shown once, stored as a hash.
func (s *Service) Start(ctx context.Context, name, email, origin string) (Conversation, string, error) {
	p := accounts.Problems{}
	name, email = strings.TrimSpace(name), strings.ToLower(strings.TrimSpace(email))
	if utf8.RuneCountInString(name) > 100 {
		p.Add("name", "is longer than 100 characters")
	}
	if len(email) > 254 {
		p.Add("email", "is longer than 254 characters")
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
	return c, token, nil
}

// ByToken resolves a visitor's token to their conversation. Returns
// accounts.ErrNotFound for any other token.
func (s *Service) ByToken(ctx context.Context, token string) (Conversation, error) {
	return s.store.FindByToken(ctx, accounts.HashSecret(token))
}

// Send stores a message and then publishes it. It returns the stored message; for a
// resend (a client id seen before) the first copy, unpublished again.
func (s *Service) Send(ctx context.Context, conv int64, author Author, userID *int64, body, clientID string) (Message, error) {
	p := accounts.Problems{}
	if strings.TrimSpace(body) == "" {
		p.Add("body", "is required")
	} else if utf8.RuneCountInString(body) > MaxBody {
		p.Add("body", fmt.Sprintf("is longer than %d characters", MaxBody))
	}
	if len(clientID) > 64 {
		p.Add("client_id", "is longer than 64 characters")
	}
	if err := p.Err(); err != nil {
		return Message{}, err
	}
	lock := &s.order[uint64(conv)%uint64(len(s.order))]
	lock.Lock()
	defer lock.Unlock()
	m := Message{ConversationID: conv, Author: author, AuthorUserID: userID, Body: body, ClientID: clientID, CreatedAt: s.clock.Now()}
	dup, err := s.store.Append(ctx, &m)
	if err != nil {
		return Message{}, fmt.Errorf("store chat message: %w", err)
	}
	if !dup && s.hub != nil {
		s.hub.Publish(m)
	}
	return m, nil
}

// Conversation returns one conversation. Returns accounts.ErrNotFound.
func (s *Service) Conversation(ctx context.Context, id int64) (Conversation, error) {
	return s.store.FindConversation(ctx, id)
}

// After returns the messages a client missed: those after seq.
func (s *Service) After(ctx context.Context, conv, seq int64) ([]Message, error) {
	return s.store.After(ctx, conv, seq, 1000)
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
	return s.store.FindConversation(ctx, id)
}

// List returns conversations with a status ("" for all), newest activity first.
func (s *Service) List(ctx context.Context, status string, limit int) ([]Conversation, error) {
	if status != "" && status != Open && status != Closed {
		return nil, &accounts.ValidationError{Fields: map[string]string{"status": "must be open or closed"}}
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
