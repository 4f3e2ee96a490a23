package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/platform/httpbody"
	"github.com/sproudstack/sproudchat/platform/problem"
)

// apiChatToTicket turns a conversation into a ticket with its transcript, and tells the
// conversation so.
func (s *chatArea) apiChatToTicket(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	conv, err := s.chat.Conversation(ctx, id)
	if err != nil {
		return err
	}
	if conv.VisitorEmail == "" {
		return instance.InvalidField("visitor_email", "visitor_without_email", "the visitor left no e-mail address to answer")
	}
	msgs, err := s.chat.ForVisitor(ctx, id, 0)
	if err != nil {
		return err
	}
	transcript := chat.Transcript(msgs, "2006-01-02 15:04", func(a chat.Author) string {
		if a == chat.Visitor {
			return conv.VisitorName
		}
		return string(a)
	})
	if transcript == "" {
		return instance.InvalidField("conversation", "chat_empty", "has no messages yet")
	}
	p := mustPrincipal(c)
	name := conv.VisitorName
	if name == "" {
		name = conv.VisitorEmail
	}
	t, err := s.tickets.Create(ctx, &p, tickets.NewTicket{Subject: translate(lang(c.Request(), &p.User), "chat.ticket_subject", "Name", name), RequesterName: conv.VisitorName,
		RequesterEmail: conv.VisitorEmail, Body: transcript, Source: "chat"})
	if err != nil {
		return err
	}
	if _, err := s.chat.Send(ctx, id, chat.System, nil, translate(lang(c.Request(), &p.User), "chat.continues_as_ticket", "ID", t.ID), ""); err != nil {
		s.log.ErrorContext(ctx, "chat system message", "conversation_id", id, "error", err.Error())
	}
	return c.JSON(http.StatusCreated, toTicketJSON(t))
}

// apiChatOffline takes the widget's "leave a message" form while no agent is online: it
// becomes a ticket, and the visitor gets the reference by e-mail.
func (s *chatArea) apiChatOffline(c echo.Context) error {
	var in struct {
		Name    string `json:"name"`
		Email   string `json:"email"`
		Message string `json:"message"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	if wait := s.contactLimit.Take(addressKey(c)); wait > 0 {
		return problem.New(http.StatusTooManyRequests, "throttled", plural(lang(c.Request(), nil), "contact.slow_down", int((wait+time.Minute-1)/time.Minute)))
	}
	t, err := s.tickets.Create(c.Request().Context(), nil, tickets.NewTicket{Subject: translate(lang(c.Request(), nil), "chat.offline_subject"), RequesterName: in.Name,
		RequesterEmail: in.Email, Body: in.Message, Source: "chat"})
	if err != nil {
		return err
	}
	if s.confirm != nil {
		if err := s.confirm.Confirm(c.Request().Context(), t); err != nil {
			s.log.ErrorContext(c.Request().Context(), "chat offline confirmation", "ticket_id", t.ID, "error", err.Error())
		}
	}
	return c.JSON(http.StatusCreated, map[string]any{"reference": t.ID})
}

// Transcripter mails a chat's transcript to its visitor.
type Transcripter interface {
	Transcript(ctx context.Context, c chat.Conversation, msgs []chat.Message) error
}

// apiChatTranscript mails the visitor their conversation, to the address they gave
// when it started. A visitor names the conversation by their token, so no one else's
// transcript can be asked for, and each address is throttled like the contact form.
func (s *chatArea) apiChatTranscript(c echo.Context) error {
	ctx := c.Request().Context()
	var in struct {
		Token string `json:"token"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	conv, err := s.chat.ByToken(ctx, in.Token)
	if err != nil {
		return err
	}
	if s.transcripts == nil {
		return problem.New(http.StatusServiceUnavailable, "unavailable", "transcripts are not sent by this instance")
	}
	if conv.VisitorEmail == "" {
		return instance.InvalidField("email", "chat_without_email", "this chat was started without an e-mail address")
	}
	if !accounts.ValidEmail(conv.VisitorEmail) { // a chat started before addresses were checked
		return instance.InvalidField("email", "email", "is not a valid e-mail address")
	}
	if wait := s.contactLimit.Take(addressKey(c)); wait > 0 {
		return problem.New(http.StatusTooManyRequests, "throttled", "too many requests from this address; try again later")
	}
	msgs, err := s.chat.ForVisitor(ctx, conv.ID, 0)
	if err != nil {
		return err
	}
	if err := s.transcripts.Transcript(ctx, conv, msgs); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}
