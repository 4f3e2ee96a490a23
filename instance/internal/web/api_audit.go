package web

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// auditArea serves the audit log (page, API, CSV export) and the outbox's state.
type auditArea struct {
	log    auditLog
	outbox OutboxReader
	pages  *page.Renderer
	clock  clock.Clock
}

type auditJSON struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	ActorID    int64     `json:"actor_id,omitempty"`
	ActorEmail string    `json:"actor_email,omitempty"`
	Action     string    `json:"action"`
	TargetType string    `json:"target_type,omitempty"`
	TargetID   string    `json:"target_id,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	IP         string    `json:"ip,omitempty"`
}

func toAuditJSON(e accounts.AuditEntry) auditJSON { return auditJSON(e) }

// auditFilter reads ?action=&cursor=&limit=; the cursor is the last id seen.
func auditFilter(c echo.Context) (accounts.AuditFilter, error) {
	f := accounts.AuditFilter{Action: c.QueryParam("action"), Limit: 50}
	p := instance.Fields{}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			p.Add("limit", "number_between", "must be a number from %d to %d", 1, 500)
		}
		f.Limit = n
	}
	if v := c.QueryParam("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			p.Add("cursor", "cursor", "is not a cursor this API returned")
		}
		f.Before = n
	}
	return f, p.Err()
}

// listAudit serves one page of the audit log from the query's filter, with the cursor of
// the next page ("" on the last).
func (s *auditArea) listAudit(c echo.Context) ([]accounts.AuditEntry, string, error) {
	f, err := auditFilter(c)
	if err != nil {
		return nil, "", err
	}
	entries, err := s.log.ListAudit(c.Request().Context(), f)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(entries) == f.Limit {
		next = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	return entries, next, nil
}

// auditLog is the audit log of accounts.Service.
type auditLog interface {
	ListAudit(ctx context.Context, f accounts.AuditFilter) ([]accounts.AuditEntry, error)
}

// eachAudit calls fn with every entry of log matching f, newest first, a page at a time.
func eachAudit(ctx context.Context, log auditLog, f accounts.AuditFilter, fn func(accounts.AuditEntry)) error {
	const page = 500
	f.Limit = page
	for {
		entries, err := log.ListAudit(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range entries {
			fn(e)
		}
		if len(entries) < page {
			return nil
		}
		f.Before = entries[len(entries)-1].ID
	}
}

func (s *auditArea) apiListAudit(c echo.Context) error {
	entries, next, err := s.listAudit(c)
	if err != nil {
		return err
	}
	out := listJSON[auditJSON]{Items: make([]auditJSON, len(entries)), NextCursor: next}
	for i, e := range entries {
		out.Items[i] = toAuditJSON(e)
	}
	return c.JSON(http.StatusOK, out)
}

// apiExportAudit streams the whole audit log as CSV, newest first.
func (s *auditArea) apiExportAudit(c echo.Context) error {
	ctx := c.Request().Context()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="sproudchat-audit-%s.csv"`, s.clock.Now().Format("2006-01-02")))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	w.Write([]string{"id", "at", "actor_id", "actor_email", "action", "target_type", "target_id", "detail", "ip"})
	err := eachAudit(ctx, s.log, accounts.AuditFilter{}, func(e accounts.AuditEntry) {
		w.Write([]string{strconv.FormatInt(e.ID, 10), e.At.Format(time.RFC3339), strconv.FormatInt(e.ActorID, 10),
			csvSafe(e.ActorEmail), e.Action, e.TargetType, e.TargetID, csvSafe(e.Detail), e.IP})
	})
	if err != nil {
		return err // headers are out: the error handler only logs it
	}
	w.Flush()
	return w.Error()
}

// csvSafe defuses spreadsheet formula injection: a cell starting with = + - @ would be
// evaluated when the export is opened in a spreadsheet.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
