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
func (s *Server) uploadLimit() int64 {
	if s.opts.Attachments == nil {
		return 0
	}
	return s.opts.Attachments.Limits().MaxFile + 64<<10
}

// apiUploadAttachment streams the multipart part "file" into the blob store without
// buffering it whole.
func (s *Server) apiUploadAttachment(c echo.Context) error {
	id, err := s.ticketParam(c)
	if err != nil {
		return err
	}
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return &requestError{http.StatusUnsupportedMediaType, "media-type", "send the file as multipart/form-data in the part \"file\""}
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return badRequest("no part named \"file\"")
		}
		if err != nil {
			if tooLarge(err) {
				return errTooLarge
			}
			return badRequest("the multipart body could not be read")
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		att, err := s.opts.Attachments.Attach(c.Request().Context(), mustPrincipal(c), id, part.FileName(), part)
		part.Close()
		if tooLarge(err) {
			return errTooLarge
		}
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/attachments/%d", att.ID))
		return c.JSON(http.StatusCreated, toAttachmentJSON(att))
	}
}

// apiDownloadAttachment serves a file as a download only: never rendered in the
// instance's origin, whatever its content.
func (s *Server) apiDownloadAttachment(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	att, err := s.opts.Attachments.Find(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if _, err := s.visibleTicket(c, att.TicketID); err != nil {
		return err
	}
	f, err := s.opts.Blobs.Open(att.SHA256)
	if err != nil {
		return err
	}
	defer f.Close()
	ct := att.ContentType
	if strings.HasPrefix(ct, "text/html") || strings.Contains(ct, "xml") || strings.Contains(ct, "javascript") {
		ct = "application/octet-stream"
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, ct)
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": att.Filename}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Content-Length", strconv.FormatInt(att.Size, 10))
	c.Response().WriteHeader(http.StatusOK)
	_, err = io.Copy(c.Response(), f)
	return err
}
