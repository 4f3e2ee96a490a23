package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

func (s *auditArea) pageAudit(c echo.Context) error {
	entries, next, err := s.listAudit(c)
	if err != nil {
		return err
	}
	d := s.pages.Page(c, "audit.title")
	d.Data = struct {
		Entries []accounts.AuditEntry
		Next    string
	}{entries, next}
	return s.pages.Render(c, http.StatusOK, "audit", d)
}
