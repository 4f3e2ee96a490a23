package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

type tokenJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Token      string     `json:"token,omitempty"` // only in the create response
}

func toTokensJSON(ts []accounts.APIToken) []tokenJSON {
	out := make([]tokenJSON, len(ts))
	for i, t := range ts {
		out[i] = tokenJSON{ID: t.ID, Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt}
	}
	return out
}

func (s *Server) apiListTokens(c echo.Context) error {
	ts, err := s.opts.Accounts.ListTokens(c.Request().Context(), mustPrincipal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listJSON[tokenJSON]{Items: toTokensJSON(ts)})
}

func (s *Server) apiCreateToken(c echo.Context) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	t, err := s.opts.Accounts.CreateToken(c.Request().Context(), mustPrincipal(c), in.Name, meta(c))
	if err != nil {
		return err
	}
	out := toTokensJSON([]accounts.APIToken{t.APIToken})[0]
	out.Token = t.Secret
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) apiRevokeToken(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.opts.Accounts.RevokeToken(c.Request().Context(), mustPrincipal(c), id, meta(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
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
	p := accounts.Problems{}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			p.Add("limit", "must be a number from 1 to 500")
		}
		f.Limit = n
	}
	if v := c.QueryParam("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			p.Add("cursor", "is not a cursor this API returned")
		}
		f.Before = n
	}
	return f, p.Err()
}

func (s *Server) apiListAudit(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	entries, err := s.opts.Accounts.ListAudit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := listJSON[auditJSON]{Items: make([]auditJSON, len(entries))}
	for i, e := range entries {
		out.Items[i] = toAuditJSON(e)
	}
	if len(entries) == f.Limit {
		out.NextCursor = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	return c.JSON(http.StatusOK, out)
}

// apiExportAudit streams the whole audit log as CSV, newest first.
func (s *Server) apiExportAudit(c echo.Context) error {
	ctx := c.Request().Context()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="sproudchat-audit-%s.csv"`, s.opts.Clock.Now().Format("2006-01-02")))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	w.Write([]string{"id", "at", "actor_id", "actor_email", "action", "target_type", "target_id", "detail", "ip"})
	for before := int64(0); ; {
		entries, err := s.opts.Accounts.ListAudit(ctx, accounts.AuditFilter{Before: before, Limit: 500})
		if err != nil {
			return err // headers are out: the error handler only logs it
		}
		for _, e := range entries {
			w.Write([]string{strconv.FormatInt(e.ID, 10), e.At.Format(time.RFC3339), strconv.FormatInt(e.ActorID, 10),
				csvSafe(e.ActorEmail), e.Action, e.TargetType, e.TargetID, csvSafe(e.Detail), e.IP})
		}
		if len(entries) < 500 {
			break
		}
		before = entries[len(entries)-1].ID
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
