package chat

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
)

// Attachment is a file sent in a chat. Its body lives in the blob store under its
// SHA-256, shared with the tickets' files and counted in the same quota.
type Attachment struct {
	ID             int64
	ConversationID int64
	Filename       string
	ContentType    string // sniffed from the content, never taken from the client
	Size           int64
	SHA256         string
	CreatedAt      time.Time
}

// Files puts bodies in the blob store within the limits and quota: the tickets'
// attachments, which chat files share.
type Files interface {
	Store(ctx context.Context, filename string, r io.Reader) (tickets.File, error)
	Discard(f tickets.File)
}

// AttachmentStore finds chat attachments; Append stores them with their message.
type AttachmentStore interface {
	// FindAttachment returns instance.ErrNotFound.
	FindAttachment(ctx context.Context, id int64) (Attachment, error)
}

// Attach stores r as a file in conversation conv and sends it as a message from
// author: stored, numbered and acknowledged like any other. Returns
// instance.ErrTooLarge past the file limit or the quota, having stored nothing, and
// instance.ErrNotFound for an unknown conversation.
func (s *Service) Attach(ctx context.Context, m Message, filename string, r io.Reader) (Message, error) {
	if s.files == nil {
		return Message{}, fmt.Errorf("%w: attachments are not configured", instance.ErrInvalid)
	}
	if _, err := s.store.FindConversation(ctx, m.ConversationID); err != nil {
		return Message{}, err
	}
	f, err := s.files.Store(ctx, filename, r)
	if err != nil {
		return Message{}, err
	}
	m.Body = f.Filename
	m.Attachment = &Attachment{ConversationID: m.ConversationID, Filename: f.Filename, ContentType: f.ContentType, Size: f.Size, SHA256: f.SHA256}
	stored, err := s.Post(ctx, m)
	if err != nil {
		s.files.Discard(f)
		return Message{}, err
	}
	return stored, nil
}

// Attachment returns one file. Returns instance.ErrNotFound.
func (s *Service) Attachment(ctx context.Context, id int64) (Attachment, error) {
	return s.store.FindAttachment(ctx, id)
}
