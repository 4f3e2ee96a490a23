package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/web/livechat"
)

// conversationJSON is a conversation as the API shows it, the same in a live frame.
type conversationJSON = livechat.Conversation

var toConversationJSON = livechat.ToConversation

func (s *chatArea) apiListConversations(c echo.Context) error {
	limit, _ := strconv.Atoi(c.QueryParam("limit"))
	list, err := s.chat.List(c.Request().Context(), c.QueryParam("status"), limit)
	if err != nil {
		return err
	}
	out := make([]conversationJSON, len(list))
	for i, cv := range list {
		out[i] = toConversationJSON(cv)
	}
	return c.JSON(http.StatusOK, map[string]any{"conversations": out})
}

func (s *chatArea) apiGetConversation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	conv, err := s.chat.Conversation(ctx, id)
	if err != nil {
		return err
	}
	msgs, err := s.chat.After(ctx, id, 0)
	if err != nil {
		return err
	}
	out := make([]frame, len(msgs))
	for i, m := range msgs {
		out[i] = messageFrame(m)
	}
	return c.JSON(http.StatusOK, map[string]any{"conversation": toConversationJSON(conv), "messages": out})
}

func (s *chatArea) apiCloseConversation(c echo.Context) error {
	return s.setConversationStatus(c, s.chat.Close)
}
func (s *chatArea) apiReopenConversation(c echo.Context) error {
	return s.setConversationStatus(c, s.chat.Reopen)
}

func (s *chatArea) setConversationStatus(c echo.Context, set func(ctx context.Context, id int64) (chat.Conversation, error)) error {
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
