// Package tickets is the helpdesk: tickets with their requester, status, priority,
// assignee and tags, the conversation (public replies, internal notes, the requester's
// messages), a history of every change, merging, and attachments. It knows nothing of
// HTTP or SQL; Store is implemented by the store package.
package tickets

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Status is where a ticket stands.
type Status string

// The statuses, in their usual order.
const (
	New     Status = "new"
	Open    Status = "open"
	Pending Status = "pending" // waiting for the requester
	Solved  Status = "solved"
	Closed  Status = "closed"
)

// Statuses lists every status.
var Statuses = []Status{New, Open, Pending, Solved, Closed}

// Priority is how urgent a ticket is.
type Priority string

// The priorities.
const (
	Low    Priority = "low"
	Normal Priority = "normal"
	High   Priority = "high"
	Urgent Priority = "urgent"
)

// Priorities lists every priority.
var Priorities = []Priority{Low, Normal, High, Urgent}

// Kind of a message.
type Kind string

// The kinds of message.
const (
	FromRequester Kind = "message" // written by the requester
	Reply         Kind = "reply"   // an agent's public answer
	Note          Kind = "note"    // internal, never shown to the requester
)

// Ticket is one request.
type Ticket struct {
	ID              int64
	Subject         string
	RequesterName   string
	RequesterEmail  string
	Status          Status
	Priority        Priority
	AssigneeID      *int64
	Tags            []string
	Source          string
	MergedIntoID    *int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
	FirstResponseAt *time.Time
	SolvedAt        *time.Time
	ClosedAt        *time.Time
}

// Message is one entry of a ticket's conversation.
type Message struct {
	ID           int64
	TicketID     int64
	Kind         Kind
	AuthorUserID *int64
	AuthorName   string
	AuthorEmail  string
	Body         string
	CreatedAt    time.Time
}

// Change is one row of a ticket's history.
type Change struct {
	ID          int64
	TicketID    int64
	At          time.Time
	ActorUserID *int64
	ActorName   string
	Field       string
	From, To    string
}

// Filter narrows List. Zero values match everything.
type Filter struct {
	Status     Status
	AssigneeID int64 // -1: unassigned
	Tag        string
	Requester  string // e-mail
	Text       string // in subject and messages
	Sort       string // "updated" (default, newest first), "created", "priority"
	After      string // cursor
	Limit      int
}

// Store is what the service needs of persistence. Writes take the history rows to add
// in the same transaction.
type Store interface {
	CreateTicket(ctx context.Context, t *Ticket, first Message, history []Change) error
	FindTicket(ctx context.Context, id int64) (Ticket, error)
	UpdateTicket(ctx context.Context, t Ticket, history []Change) error
	AddMessage(ctx context.Context, m *Message, t Ticket, history []Change) error
	ListTickets(ctx context.Context, f Filter) ([]Ticket, string, error)
	Messages(ctx context.Context, ticketID int64) ([]Message, error)
	History(ctx context.Context, ticketID int64) ([]Change, error)
	// Merge moves from's messages, attachments and tags to into, closes from as merged
	// into it, and writes both tickets' history, in one transaction.
	Merge(ctx context.Context, from, into Ticket, history []Change) error
}

// Notifier is told of what others should hear about: new tickets and public replies.
// Its errors do not undo the change; they are logged.
type Notifier interface {
	TicketCreated(ctx context.Context, t Ticket, first Message) error
	ReplySent(ctx context.Context, t Ticket, m Message) error
}

// Service is the helpdesk's use cases.
type Service struct {
	store  Store
	clock  clock.Clock
	notify Notifier
	log    *slog.Logger
}

// NewService returns the service.
func NewService(s Store, c clock.Clock) *Service {
	if c == nil {
		c = clock.Real{}
	}
	return &Service{store: s, clock: c, log: slog.New(slog.DiscardHandler)}
}

// SetNotifier makes the service tell n of new tickets and replies.
func (s *Service) SetNotifier(n Notifier, log *slog.Logger) {
	s.notify = n
	if log != nil {
		s.log = log
	}
}

// NewTicket is a ticket as an agent, a form or an e-mail opens it.
type NewTicket struct {
	Subject        string
	RequesterName  string
	RequesterEmail string
	Body           string
	Priority       Priority
	Tags           []string
	AssigneeID     *int64
	Source         string
}

func checkText(p instance.Fields, field, v string, max int) {
	switch {
	case strings.TrimSpace(v) == "":
		p.Add(field, "required", "is required")
	case utf8.RuneCountInString(v) > max:
		p.Add(field, "too_long", "is longer than %d characters", max)
	}
}

func normalizeTags(p instance.Fields, tags []string) []string {
	out := []string{}
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		if len(t) > 40 || strings.ContainsAny(t, ", \t\n") {
			p.Add("tags", "tag", "%q: a tag is one word of at most 40 characters", t)
			continue
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > 20 {
		p.Add("tags", "too_many_tags", "at most %d tags", 20)
	}
	slices.Sort(out)
	return out
}

func actorOf(by *accounts.Principal) (*int64, string) {
	if by == nil {
		return nil, ""
	}
	id := by.User.ID
	return &id, by.User.Name
}

// Validate checks a new ticket and returns it normalized (trimmed, lower-case e-mail,
// default priority, sorted unique tags). Returns an Invalid *instance.Error.
func (s *Service) Validate(in NewTicket) (NewTicket, error) {
	p := instance.Fields{}
	checkText(p, "subject", in.Subject, 200)
	checkText(p, "body", in.Body, 100_000)
	in.RequesterEmail = accounts.NormalizeEmail(in.RequesterEmail)
	if !accounts.ValidEmail(in.RequesterEmail) {
		p.Add("requester_email", "email", "is not a valid e-mail address")
	}
	in.RequesterName = strings.TrimSpace(in.RequesterName)
	if utf8.RuneCountInString(in.RequesterName) > 100 {
		p.Add("requester_name", "too_long", "is longer than %d characters", 100)
	}
	if in.Priority == "" {
		in.Priority = Normal
	}
	if !slices.Contains(Priorities, in.Priority) {
		p.Add("priority", "one_of", "must be %s", "low, normal, high or urgent")
	}
	in.Tags = normalizeTags(p, in.Tags)
	in.Subject = strings.TrimSpace(in.Subject)
	return in, p.Err()
}

// Create opens a ticket with its first message. by is nil when the requester opened it
// (contact form, e-mail). Returns an Invalid *instance.Error for bad fields.
func (s *Service) Create(ctx context.Context, by *accounts.Principal, in NewTicket) (Ticket, error) {
	in, err := s.Validate(in)
	if err != nil {
		return Ticket{}, err
	}
	email, tags := in.RequesterEmail, in.Tags
	now := s.clock.Now()
	t := Ticket{Subject: in.Subject, RequesterName: in.RequesterName, RequesterEmail: email,
		Status: New, Priority: in.Priority, AssigneeID: in.AssigneeID, Tags: tags, Source: in.Source, CreatedAt: now, UpdatedAt: now}
	if t.Source == "" {
		t.Source = "agent"
	}
	first := Message{Kind: FromRequester, AuthorName: t.RequesterName, AuthorEmail: email, Body: in.Body, CreatedAt: now}
	actorID, actorName := actorOf(by)
	if by != nil {
		// An agent opened it on the requester's behalf: the text is the agent's note of the
		// request, shown as the requester's message.
		first.AuthorUserID = actorID
	}
	h := []Change{{At: now, ActorUserID: actorID, ActorName: actorName, Field: "created", To: string(New)}}
	if err := s.store.CreateTicket(ctx, &t, first, h); err != nil {
		return Ticket{}, fmt.Errorf("create ticket: %w", err)
	}
	if s.notify != nil {
		if err := s.notify.TicketCreated(ctx, t, first); err != nil {
			s.log.ErrorContext(ctx, "notify new ticket", "ticket_id", t.ID, "error", err.Error())
		}
	}
	return t, nil
}

// Get returns a ticket. Returns instance.ErrNotFound.
func (s *Service) Get(ctx context.Context, id int64) (Ticket, error) {
	return s.store.FindTicket(ctx, id)
}

// List returns a page of tickets and the next cursor.
func (s *Service) List(ctx context.Context, f Filter) ([]Ticket, string, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	return s.store.ListTickets(ctx, f)
}

// Messages returns the conversation; withNotes false leaves internal notes out.
func (s *Service) Messages(ctx context.Context, id int64, withNotes bool) ([]Message, error) {
	ms, err := s.store.Messages(ctx, id)
	if err != nil || withNotes {
		return ms, err
	}
	return slices.DeleteFunc(ms, func(m Message) bool { return m.Kind == Note }), nil
}

// History returns every change of a ticket, oldest first.
func (s *Service) History(ctx context.Context, id int64) ([]Change, error) {
	return s.store.History(ctx, id)
}

// Notifiers tells several notifiers in turn; the first error is returned after all
// were told.
type Notifiers []Notifier

// TicketCreated tells each notifier.
func (ns Notifiers) TicketCreated(ctx context.Context, t Ticket, first Message) error {
	var firstErr error
	for _, n := range ns {
		if err := n.TicketCreated(ctx, t, first); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// ReplySent tells each notifier.
func (ns Notifiers) ReplySent(ctx context.Context, t Ticket, m Message) error {
	var first error
	for _, n := range ns {
		if err := n.ReplySent(ctx, t, m); err != nil && first == nil {
			first = err
		}
	}
	return first
}
