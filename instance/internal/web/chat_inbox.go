package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/chat"
)

// conversationJSON is a conversation as the API shows it. The visitor's token is never
// part of it: only its hash is stored.
type conversationJSON struct {
	ID              int64      `json:"id"`
	VisitorName     string     `json:"visitor_name"`
	VisitorEmail    string     `json:"visitor_email"`
	Status          string     `json:"status"`
	AssigneeID      *int64     `json:"assignee_id"`
	LastSeq         int64      `json:"last_seq"`
	Origin          string     `json:"origin"`
	StartedAt       time.Time  `json:"started_at"`
	FirstResponseAt *time.Time `json:"first_response_at"`
	ClosedAt        *time.Time `json:"closed_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	ReadSeq         int64      `json:"read_seq"`
	Unread          int64      `json:"unread"`
}

func toConversationJSON(c chat.Conversation) conversationJSON {
	return conversationJSON{ID: c.ID, VisitorName: c.VisitorName, VisitorEmail: c.VisitorEmail, Status: c.Status, AssigneeID: c.AssigneeID,
		LastSeq: c.LastSeq, Origin: c.Origin, StartedAt: c.StartedAt, FirstResponseAt: c.FirstResponseAt, ClosedAt: c.ClosedAt, UpdatedAt: c.UpdatedAt,
		ReadSeq: c.ReadSeq, Unread: c.Unread}
}

func (s *Server) apiListConversations(c echo.Context) error {
	limit, _ := strconv.Atoi(c.QueryParam("limit"))
	list, err := s.opts.Chat.List(c.Request().Context(), c.QueryParam("status"), limit)
	if err != nil {
		return err
	}
	out := make([]conversationJSON, len(list))
	for i, cv := range list {
		out[i] = toConversationJSON(cv)
	}
	return c.JSON(http.StatusOK, map[string]any{"conversations": out})
}

func (s *Server) apiGetConversation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	conv, err := s.opts.Chat.Conversation(ctx, id)
	if err != nil {
		return err
	}
	msgs, err := s.opts.Chat.After(ctx, id, 0)
	if err != nil {
		return err
	}
	out := make([]frame, len(msgs))
	for i, m := range msgs {
		out[i] = messageFrame(m)
	}
	return c.JSON(http.StatusOK, map[string]any{"conversation": toConversationJSON(conv), "messages": out})
}

func (s *Server) apiCloseConversation(c echo.Context) error {
	return s.setConversationStatus(c, s.opts.Chat.Close)
}
func (s *Server) apiReopenConversation(c echo.Context) error {
	return s.setConversationStatus(c, s.opts.Chat.Reopen)
}

func (s *Server) setConversationStatus(c echo.Context, set func(ctx context.Context, id int64) (chat.Conversation, error)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	conv, err := set(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toConversationJSON(conv))
}
