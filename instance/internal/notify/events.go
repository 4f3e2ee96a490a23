package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/i18n"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/instance/internal/worker"
)

// TicketEvents tells the targets of new tickets and replies.
type TicketEvents struct{ Hooks *Hooks }

var _ tickets.Notifier = TicketEvents{}

// TicketCreated publishes ticket.new.
func (e TicketEvents) TicketCreated(ctx context.Context, t tickets.Ticket, first tickets.Message) error {
	return e.Hooks.Publish(ctx, Event{Type: EventTicketNew, Title: e.Hooks.translator(ctx, nil).T("event.ticket_new", "ID", t.ID, "Subject", t.Subject),
		Text: truncate(e.Hooks.translator(ctx, nil).T("event.ticket_new_text", "Name", t.RequesterName, "Email", t.RequesterEmail, "Body", first.Body), 1000),
		URL:  fmt.Sprintf("%s/tickets/%d", e.Hooks.BaseURL(), t.ID), Data: map[string]any{"ticket_id": t.ID}})
}

// ReplySent publishes ticket.reply.
func (e TicketEvents) ReplySent(ctx context.Context, t tickets.Ticket, m tickets.Message) error {
	return e.Hooks.Publish(ctx, Event{Type: EventTicketReply, Title: e.Hooks.translator(ctx, nil).T("event.ticket_reply", "ID", t.ID, "Subject", t.Subject),
		Text: truncate(m.AuthorName+":\n"+m.Body, 1000), URL: fmt.Sprintf("%s/tickets/%d", e.Hooks.BaseURL(), t.ID),
		Data: map[string]any{"ticket_id": t.ID, "message_id": m.ID}})
}

// ChatStarted publishes chat.new.
func (h *Hooks) ChatStarted(ctx context.Context, c chat.Conversation) error {
	return h.Publish(ctx, Event{Type: EventChatNew, Title: h.translator(ctx, nil).T("event.chat_new", "Name", visitorName(h.translator(ctx, nil), c)), Text: chatText(h.translator(ctx, nil), c),
		URL: fmt.Sprintf("%s/inbox?c=%d", h.o.BaseURL, c.ID), Data: map[string]any{"conversation_id": c.ID}})
}

func visitorName(tr i18n.Translator, c chat.Conversation) string {
	switch {
	case c.VisitorName != "":
		return c.VisitorName
	case c.VisitorEmail != "":
		return c.VisitorEmail
	}
	return tr.T("event.visitor", "ID", c.ID)
}

func chatText(tr i18n.Translator, c chat.Conversation) string {
	s := tr.T("event.on_origin", "Origin", c.Origin)
	if c.Origin == "" {
		s = tr.T("event.on_website")
	}
	if c.VisitorEmail != "" {
		s += " · " + c.VisitorEmail
	}
	return s
}

// UnansweredChats is what WatchUnanswered needs of the chat.
type UnansweredChats interface {
	// TakeUnanswered returns the open conversations started before t that no agent has
	// answered and nobody was told of yet, marking them told.
	TakeUnanswered(ctx context.Context, before time.Time) ([]chat.Conversation, error)
}

// WatchUnanswered publishes chat.unanswered, once per conversation, for chats waiting
// longer than wait() for a first answer; it looks every o.Every until ctx ends, and
// returns once what it took is published (see worker.Loop).
func (h *Hooks) WatchUnanswered(ctx context.Context, chats UnansweredChats, wait func(context.Context) time.Duration, o worker.Options) {
	worker.Loop(ctx, o, func(work context.Context) {
		// What TakeUnanswered returns is marked told: all of it is published, stopping or not.
		if err := h.NotifyUnanswered(work, chats, wait(work)); err != nil && work.Err() == nil {
			h.o.Logger.ErrorContext(work, "notify unanswered chats", "error", err.Error())
		}
	})
}

// NotifyUnanswered publishes chat.unanswered for each chat waiting longer than wait.
func (h *Hooks) NotifyUnanswered(ctx context.Context, chats UnansweredChats, wait time.Duration) error {
	list, err := chats.TakeUnanswered(ctx, h.o.Clock.Now().Add(-wait))
	if err != nil {
		return err
	}
	tr := h.translator(ctx, nil)
	for _, c := range list {
		err := h.Publish(ctx, Event{Type: EventChatUnanswered, Title: tr.N("event.chat_unanswered", int(wait.Minutes()), "Name", visitorName(tr, c)),
			Text: chatText(tr, c), URL: fmt.Sprintf("%s/inbox?c=%d", h.o.BaseURL, c.ID), Data: map[string]any{"conversation_id": c.ID}})
		if err != nil {
			return err
		}
	}
	return nil
}
