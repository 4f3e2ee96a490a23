package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/platform/httpbody"
)

// agentJSON is a member of the team as the inbox shows them: who can take a chat, how
// busy they are and whether they are there.
type agentJSON struct {
	ID             int64      `json:"id"`
	Name           string     `json:"name"`
	Presence       string     `json:"presence"` // online, away, offline
	Status         string     `json:"status"`   // what they chose: online or away
	MaxChats       int        `json:"max_chats"`
	OpenChats      int        `json:"open_chats"`
	LastAssignedAt *time.Time `json:"last_assigned_at"`
}

// chatAgents are the active users who may answer chats, with their presence.
func (s *chatArea) chatAgents(ctx context.Context) ([]agentJSON, error) {
	users, err := s.users.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	var ids []int64
	names := map[int64]string{}
	for _, u := range users {
		if u.Active && u.Role.Can(accounts.ChatAnswer) {
			ids = append(ids, u.ID)
			names[u.ID] = u.Name
		}
	}
	states, err := s.chat.Agents(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]agentJSON, len(states))
	for i, a := range states {
		out[i] = agentJSON{ID: a.UserID, Name: names[a.UserID], Presence: a.Presence, Status: a.Status, MaxChats: a.MaxChats,
			OpenChats: a.OpenChats, LastAssignedAt: a.LastAssignedAt}
	}
	return out, nil
}

func (s *chatArea) apiChatAgents(c echo.Context) error {
	agents, err := s.chatAgents(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"agents": agents})
}

// apiSetPresence sets the caller's own status (online or away) and nothing else: the
// limit of concurrent chats is the admins' to set (apiSetAgent), so max_chats here is
// refused by the strict decoder like any unknown field, also in read-only mode.
func (s *chatArea) apiSetPresence(c echo.Context) error {
	var in struct {
		Status string `json:"status"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	if in.Status == "" {
		return instance.InvalidField("status", "one_of", "must be %s", "online or away")
	}
	return s.setAgent(c, mustPrincipal(c).User.ID, in.Status, 0)
}

// apiSetAgent lets an admin change another agent's limit or status.
func (s *chatArea) apiSetAgent(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in struct {
		Status   string `json:"status"`
		MaxChats int    `json:"max_chats"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	u, err := s.users.FindUser(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if !u.Role.Can(accounts.ChatAnswer) {
		return instance.InvalidField("id", "not_chat_agent", "this user does not answer chats")
	}
	return s.setAgent(c, id, in.Status, in.MaxChats)
}

// setAgent stores an agent's status and limit (each unchanged when zero) and answers
// the agent as the inbox shows them.
func (s *chatArea) setAgent(c echo.Context, userID int64, status string, maxChats int) error {
	ctx := c.Request().Context()
	if _, err := s.chat.SetPresence(ctx, userID, status, maxChats); err != nil {
		return err
	}
	agents, err := s.chatAgents(ctx)
	if err != nil {
		return err
	}
	for _, a := range agents {
		if a.ID == userID {
			return c.JSON(http.StatusOK, a)
		}
	}
	return instance.ErrNotFound
}

// apiAssignConversation gives a conversation to an agent who may answer chats (claim:
// oneself; transfer: someone else) or, with "user_id": null, back to the queue.
func (s *chatArea) apiAssignConversation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in struct {
		UserID *int64 `json:"user_id"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	me := mustPrincipal(c).User
	note := fmt.Sprintf("%s put the conversation back in the queue.", me.Name)
	if in.UserID != nil {
		u, err := s.users.FindUser(ctx, *in.UserID)
		if err != nil || !u.Active || !u.Role.Can(accounts.ChatAnswer) {
			return instance.InvalidField("user_id", "not_active_chat_agent", "is not an active agent who answers chats")
		}
		note = fmt.Sprintf("%s assigned the conversation to %s.", me.Name, u.Name)
		if u.ID == me.ID {
			note = fmt.Sprintf("%s took the conversation.", me.Name)
		}
	}
	conv, err := s.chat.Assign(ctx, id, in.UserID, note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toConversationJSON(conv))
}

// apiReadConversation records that the team has read a conversation up to seq.
func (s *chatArea) apiReadConversation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in struct {
		Seq int64 `json:"seq"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	if in.Seq < 0 {
		return instance.InvalidField("seq", "negative", "must not be negative")
	}
	conv, err := s.chat.MarkRead(c.Request().Context(), id, in.Seq)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toConversationJSON(conv))
}

type cannedJSON struct {
	ID        int64     `json:"id"`
	Shortcut  string    `json:"shortcut"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *chatArea) apiListCanned(c echo.Context) error {
	list, err := s.chat.CannedResponses(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]cannedJSON, len(list))
	for i, cr := range list {
		out[i] = cannedJSON{ID: cr.ID, Shortcut: cr.Shortcut, Body: cr.Body, CreatedAt: cr.CreatedAt}
	}
	return c.JSON(http.StatusOK, map[string]any{"canned": out})
}

func (s *chatArea) apiCreateCanned(c echo.Context) error {
	var in struct {
		Shortcut string `json:"shortcut"`
		Body     string `json:"body"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	cr, err := s.chat.CreateCanned(c.Request().Context(), in.Shortcut, in.Body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, cannedJSON{ID: cr.ID, Shortcut: cr.Shortcut, Body: cr.Body, CreatedAt: cr.CreatedAt})
}

func (s *chatArea) apiDeleteCanned(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.chat.DeleteCanned(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
