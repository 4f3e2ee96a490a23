package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/platform/problem"
)

type attachmentJSON struct {
	ID          int64     `json:"id"`
	TicketID    int64     `json:"ticket_id"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	URL         string    `json:"url"`
	CreatedAt   time.Time `json:"created_at"`
}

func toAttachmentJSON(a tickets.Attachment) attachmentJSON {
	return attachmentJSON{ID: a.ID, TicketID: a.TicketID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size,
		URL: fmt.Sprintf("/api/v1/attachments/%d", a.ID), CreatedAt: a.CreatedAt}
}

// uploadLimit is the body an upload may have: one file and the multipart framing.
func (s *ticketsArea) uploadLimit() int64 {
	if s.attachments == nil {
		return 0
	}
	return s.attachments.Limits().MaxFile + 64<<10
}

// apiUploadAttachment streams the multipart part "file" into the blob store without
// buffering it whole.
func (s *ticketsArea) apiUploadAttachment(c echo.Context) error {
	id, err := s.ticketParam(c)
	if err != nil {
		return err
	}
	return receiveFile(c, nil, func(filename string, r io.Reader) error {
		att, err := s.attachments.Attach(c.Request().Context(), mustPrincipal(c), id, filename, r)
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/attachments/%d", att.ID))
		return c.JSON(http.StatusCreated, toAttachmentJSON(att))
	})
}

// receiveFile reads a multipart upload: the small text parts named in fields (which
// must come before the file), then streams the part "file" to store, never buffering
// it whole.
func receiveFile(c echo.Context, fields map[string]*string, store func(filename string, r io.Reader) error) error {
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return problem.New(http.StatusUnsupportedMediaType, "media-type", "send the file as multipart/form-data in the part \"file\"")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return problem.BadRequest("no part named \"file\"")
		}
		if err != nil {
			if err, ok := tooLarge(err); ok {
				return err
			}
			return problem.BadRequest("the multipart body could not be read")
		}
		if v, ok := fields[part.FormName()]; ok {
			b, err := io.ReadAll(io.LimitReader(part, 1<<10))
			part.Close()
			if err != nil {
				return problem.BadRequest("the multipart body could not be read")
			}
			*v = string(b)
			continue
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		err = store(part.FileName(), part)
		part.Close()
		if err, ok := tooLarge(err); ok {
			return err
		}
		return err
	}
}

// apiDownloadAttachment serves a file as a download only: never rendered in the
// instance's origin, whatever its content.
func (s *ticketsArea) apiDownloadAttachment(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	att, err := s.attachments.Find(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if _, err := s.visibleTicket(c, att.TicketID); err != nil {
		return err
	}
	return serveFile(c, s.blobs, att.SHA256, att.Filename, att.ContentType, att.Size)
}

// serveFile sends a stored body as a download only: never rendered in the instance's
// origin, whatever its content.
func serveFile(c echo.Context, blobs BlobOpener, sum, filename, ct string, size int64) error {
	f, err := blobs.Open(sum)
	if err != nil {
		return err
	}
	defer f.Close()
	if strings.HasPrefix(ct, "text/html") || strings.Contains(ct, "xml") || strings.Contains(ct, "javascript") {
		ct = "application/octet-stream"
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, ct)
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	c.Response().WriteHeader(http.StatusOK)
	_, err = io.Copy(c.Response(), f)
	return err
}
