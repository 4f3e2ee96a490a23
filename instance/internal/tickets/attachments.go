package tickets

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// Attachment is a file on a ticket. Its body lives in Blobs under its SHA-256.
type Attachment struct {
	ID          int64
	TicketID    int64
	MessageID   *int64
	Filename    string
	ContentType string // sniffed from the content, never taken from the client
	Size        int64
	SHA256      string
	UploadedBy  *int64
	CreatedAt   time.Time
}

// Blobs stores attachment bodies.
type Blobs interface {
	Put(r io.Reader, max int64) (sum string, size int64, contentType string, created bool, err error)
	Remove(sum string) error
}

// AttachmentStore is the part of persistence attachments need.
type AttachmentStore interface {
	AddAttachment(ctx context.Context, a *Attachment, h []Change) error
	FindAttachment(ctx context.Context, id int64) (Attachment, error)
	Attachments(ctx context.Context, ticketID int64) ([]Attachment, error)
	// AttachmentBytes is the disk the instance's attachments use (each body once).
	AttachmentBytes(ctx context.Context) (int64, error)
}

// Limits bound uploads.
type Limits struct {
	MaxFile int64 // one file
	Quota   int64 // all files of the instance
}

// Attachments is the attachment use cases.
type Attachments struct {
	tickets *Service
	store   AttachmentStore
	blobs   Blobs
	limits  Limits
}

// NewAttachments returns the attachment service.
func NewAttachments(t *Service, s AttachmentStore, b Blobs, l Limits) *Attachments {
	return &Attachments{tickets: t, store: s, blobs: b, limits: l}
}

// Limits returns the configured limits.
func (a *Attachments) Limits() Limits { return a.limits }

// CleanFilename keeps the base name, without control characters or quotes, at most
// 200 runes.
func CleanFilename(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	if name == "" || name == "." || name == "/" {
		name = "attachment"
	}
	return name
}

// File is a body put in the blob store, not yet recorded as anyone's attachment.
type File struct {
	Filename    string
	ContentType string
	Size        int64
	SHA256      string
	created     bool // this upload wrote the body: Discard removes it
}

// Store puts r in the blob store within the file limit and the instance's quota (the
// tickets' and the chat's files together). Returns instance.ErrTooLarge past either,
// having kept nothing. A caller that then fails to record the file calls Discard.
func (a *Attachments) Store(ctx context.Context, filename string, r io.Reader) (File, error) {
	used, err := a.store.AttachmentBytes(ctx)
	if err != nil {
		return File{}, err
	}
	if used >= a.limits.Quota {
		return File{}, fmt.Errorf("%w: the instance's attachment quota of %d bytes is used up", instance.ErrTooLarge, a.limits.Quota)
	}
	sum, size, ct, created, err := a.blobs.Put(r, a.limits.MaxFile)
	if err != nil {
		return File{}, err
	}
	f := File{Filename: CleanFilename(filename), ContentType: ct, Size: size, SHA256: sum, created: created}
	if created && used+size > a.limits.Quota {
		a.Discard(f)
		return File{}, fmt.Errorf("%w: this file would pass the instance's attachment quota of %d bytes", instance.ErrTooLarge, a.limits.Quota)
	}
	return f, nil
}

// Discard removes a stored body that no attachment records (if this upload wrote it).
func (a *Attachments) Discard(f File) {
	if f.created {
		a.blobs.Remove(f.SHA256)
	}
}

// Attach stores r as a file of ticket id. Returns instance.ErrNotFound for an unknown
// ticket and instance.ErrTooLarge past the file limit or the quota, having stored
// nothing.
func (a *Attachments) Attach(ctx context.Context, by accounts.Principal, id int64, filename string, r io.Reader) (Attachment, error) {
	t, err := a.tickets.Get(ctx, id)
	if err != nil {
		return Attachment{}, err
	}
	f, err := a.Store(ctx, filename, r)
	if err != nil {
		return Attachment{}, err
	}
	now := a.tickets.clock.Now()
	actorID, actorName := actorOf(&by)
	att := Attachment{TicketID: t.ID, Filename: f.Filename, ContentType: f.ContentType, Size: f.Size, SHA256: f.SHA256, UploadedBy: actorID, CreatedAt: now}
	h := []Change{{TicketID: t.ID, At: now, ActorUserID: actorID, ActorName: actorName, Field: "attachment", To: att.Filename}}
	if err := a.store.AddAttachment(ctx, &att, h); err != nil {
		a.Discard(f)
		return Attachment{}, fmt.Errorf("add attachment to ticket %d: %w", id, err)
	}
	return att, nil
}

// Find returns one attachment. Returns instance.ErrNotFound.
func (a *Attachments) Find(ctx context.Context, id int64) (Attachment, error) {
	return a.store.FindAttachment(ctx, id)
}

// List returns a ticket's attachments.
func (a *Attachments) List(ctx context.Context, ticketID int64) ([]Attachment, error) {
	return a.store.Attachments(ctx, ticketID)
}
