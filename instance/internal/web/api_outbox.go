package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sproudstack/sproudchat/platform/problem"
)

type mailJSON struct {
	ID          int64      `json:"id"`
	To          string     `json:"to"`
	Subject     string     `json:"subject"`
	Kind        string     `json:"kind"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	NextAttempt time.Time  `json:"next_attempt_at"`
	CreatedAt   time.Time  `json:"created_at"`
	SentAt      *time.Time `json:"sent_at"`
}

// apiOutbox shows the state of each outgoing message, newest first.
func (s *auditArea) apiOutbox(c echo.Context) error {
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return problem.BadRequest("limit must be a number from 1 to 500")
		}
		limit = n
	}
	mails, err := s.outbox.Outbox(c.Request().Context(), limit)
	if err != nil {
		return err
	}
	out := listJSON[mailJSON]{Items: make([]mailJSON, len(mails))}
	for i, m := range mails {
		out.Items[i] = mailJSON{ID: m.ID, To: m.To, Subject: m.Subject, Kind: m.Kind, Status: m.Status, Attempts: m.Attempts,
			LastError: m.LastError, NextAttempt: m.NextAttempt, CreatedAt: m.CreatedAt, SentAt: m.SentAt}
	}
	return c.JSON(http.StatusOK, out)
}
