package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/i18n"
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
	// Lang is the language of the requesters' e-mails and, for users who chose none,
	// of the team's ("" is English).
	Lang string
	// Location is the instance's time zone, for the times in the e-mails (UTC if nil).
	Location func(ctx context.Context) (*time.Location, error)
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
		tr := translator(ctx, n.Location, u.Locale, n.Lang)
		body := tr.T("mail.ticket.new_body", "Ref", ticketRef(t), "Name", t.RequesterName, "Email", t.RequesterEmail, "Subject", t.Subject,
			"Body", first.Body, "URL", fmt.Sprintf("%s/tickets/%d", n.baseURL, t.ID))
		if _, err := n.mailer.Enqueue(ctx, Mail{To: u.Email, Subject: subjectLine(tr.T("mail.ticket.new_subject", "Ref", ticketRef(t), "Subject", t.Subject)), Body: body, Kind: "new_ticket"}); err != nil {
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
	tr := translator(ctx, n.Location, i18n.LangFrom(ctx), n.Lang)
	body := fmt.Sprintf("%s\n\n-- \n%s\n%s\n", m.Body, m.AuthorName, tr.T("mail.ticket.reply_signature", "Ref", ticketRef(t)))
	_, err := n.mailer.Enqueue(ctx, Mail{To: t.RequesterEmail, Subject: subjectLine(subject + " " + ticketRef(t)), Body: body, Kind: "reply"})
	return err
}

// Confirm tells a requester that their request arrived, with its reference.
func (n *TicketMail) Confirm(ctx context.Context, t tickets.Ticket) error {
	tr := translator(ctx, n.Location, i18n.LangFrom(ctx), n.Lang)
	body := tr.T("mail.hello", "Name", t.RequesterName) + "\n\n" + tr.T("mail.ticket.confirm_body", "Subject", t.Subject, "Ref", ticketRef(t))
	_, err := n.mailer.Enqueue(ctx, Mail{To: t.RequesterEmail, Subject: tr.T("mail.ticket.confirm_subject", "Ref", ticketRef(t)), Body: body, Kind: "confirmation"})
	return err
}
