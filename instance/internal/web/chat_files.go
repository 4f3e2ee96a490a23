package web

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/platform/problem"
)

// maxChatFile is the largest file a chat takes: the tickets' limit.
func (s *chatArea) maxChatFile() int64 {
	if s.files == nil {
		return 0
	}
	return s.files.Limits().MaxFile
}

// apiVisitorUpload takes a file from a visitor: the multipart parts "token" (their
// visitor token), "client_id" (so a retried upload lands once) and then "file". The
// file is sent as a message of their own conversation, acknowledged with its sequence.
func (s *chatArea) apiVisitorUpload(c echo.Context) error {
	if wait := s.visitorUploadLimit.Take(addressKey(c)); wait > 0 {
		c.Response().Header().Set("Retry-After", itoa(int(wait.Seconds())+1))
		return problem.New(http.StatusTooManyRequests, "throttled", "too many files from this address; try again later")
	}
	var token, clientID string
	fields := map[string]*string{"token": &token, "client_id": &clientID}
	return receiveFile(c, fields, func(filename string, r io.Reader) error {
		ctx := c.Request().Context()
		conv, err := s.chat.ByToken(ctx, token)
		if err != nil {
			return err
		}
		return s.chatUpload(c, chat.Message{ConversationID: conv.ID, Author: chat.Visitor, ClientID: clientID}, filename, r)
	})
}

// apiAgentUpload takes a file from an agent into a conversation.
func (s *chatArea) apiAgentUpload(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	uid := mustPrincipal(c).User.ID
	var clientID string
	return receiveFile(c, map[string]*string{"client_id": &clientID}, func(filename string, r io.Reader) error {
		return s.chatUpload(c, chat.Message{ConversationID: id, Author: chat.Agent, AuthorUserID: &uid, ClientID: clientID}, filename, r)
	})
}

func (s *chatArea) chatUpload(c echo.Context, m chat.Message, filename string, r io.Reader) error {
	stored, err := s.chat.Attach(c.Request().Context(), m, filename, r)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, messageFrame(stored))
}

// apiAgentDownload serves a chat file to an agent.
func (s *chatArea) apiAgentDownload(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, err := s.chat.Attachment(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return serveFile(c, s.blobs, a.SHA256, a.Filename, a.ContentType, a.Size)
}

// apiVisitorDownload serves a file of the visitor's own conversation; the token comes
// in the form body, so it appears in no address. Any other file is "not found".
func (s *chatArea) apiVisitorDownload(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	token, err := formValue(c, "token")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	conv, err := s.chat.ByToken(ctx, token)
	if err != nil {
		return err
	}
	a, err := s.chat.Attachment(ctx, id)
	if err != nil {
		return err
	}
	if a.ConversationID != conv.ID {
		return instance.ErrNotFound
	}
	return serveFile(c, s.blobs, a.SHA256, a.Filename, a.ContentType, a.Size)
}
