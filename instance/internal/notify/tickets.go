package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
)

// Users lists the team, for new-ticket notices.
type Users interface {
	ListUsers(ctx context.Context) ([]accounts.User, error)
}

// TicketMail e-mails the people of a ticket: the requester gets agents' public replies,
// the team gets a notice of each new ticket.
type TicketMail struct {
	mailer  *Mailer
	users   Users
	baseURL string
	log     *slog.Logger
}

// NewTicketMail returns the ticket notifier.
func NewTicketMail(m *Mailer, u Users, baseURL string, log *slog.Logger) *TicketMail {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TicketMail{mailer: m, users: u, baseURL: strings.TrimRight(baseURL, "/"), log: log}
}

var _ tickets.Notifier = (*TicketMail)(nil)

// ticketRef is how subjects name a ticket; replies keep it so threads stay together.
func ticketRef(t tickets.Ticket) string { return fmt.Sprintf("[#%d]", t.ID) }

// TicketCreated tells every active user who works on tickets.
func (n *TicketMail) TicketCreated(ctx context.Context, t tickets.Ticket, first tickets.Message) error {
	users, err := n.users.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if !u.Active || !u.Role.Can(accounts.TicketsWrite) {
			continue
		}
		body := fmt.Sprintf("New ticket %s from %s <%s>:\n\n%s\n\n%s\n\nOpen it: %s/tickets/%d\n",
			ticketRef(t), t.RequesterName, t.RequesterEmail, t.Subject, first.Body, n.baseURL, t.ID)
		if _, err := n.mailer.Enqueue(ctx, Mail{To: u.Email, Subject: subjectLine("New ticket " + ticketRef(t) + " " + t.Subject), Body: body, Kind: "new_ticket"}); err != nil {
			return err
		}
	}
	return nil
}

// ReplySent mails an agent's public reply to the requester.
func (n *TicketMail) ReplySent(ctx context.Context, t tickets.Ticket, m tickets.Message) error {
	subject := t.Subject
	if !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	body := fmt.Sprintf("%s\n\n-- \n%s\nTicket %s\n", m.Body, m.AuthorName, ticketRef(t))
	_, err := n.mailer.Enqueue(ctx, Mail{To: t.RequesterEmail, Subject: subjectLine(subject + " " + ticketRef(t)), Body: body, Kind: "reply"})
	return err
}

// Confirm tells a requester that their request arrived, with its reference.
func (n *TicketMail) Confirm(ctx context.Context, t tickets.Ticket) error {
	body := fmt.Sprintf("Hello %s,\n\nwe received your request %q. Its reference is %s; please keep it in the subject when you write about it.\n\nWe will answer as soon as we can.\n",
		t.RequesterName, t.Subject, ticketRef(t))
	_, err := n.mailer.Enqueue(ctx, Mail{To: t.RequesterEmail, Subject: "We received your request " + ticketRef(t), Body: body, Kind: "confirmation"})
	return err
}
