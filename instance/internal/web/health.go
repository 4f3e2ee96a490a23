package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// healthArea answers the health checks of runtimes and the edge router.
type healthArea struct {
	ready      Health
	instanceID string
	version    string
	readOnly   bool
	log        *slog.Logger
}

// InstanceHeader carries the instance's id (SPROUDCHAT_INSTANCE_ID) on /healthz. The
// control plane's edge router asks for it on every new connection before it forwards
// anything, so a request never reaches another program that took this instance's old
// port.
const InstanceHeader = "Sproudchat-Instance"

func (s *healthArea) healthz(c echo.Context) error {
	if s.instanceID != "" {
		c.Response().Header().Set(InstanceHeader, s.instanceID)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.version})
}

// readyz answers 200 only when the database is reachable and migrated, so runtimes wait
// for it before sending traffic.
func (s *healthArea) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.ready.Ready(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "error", err.Error())
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database not ready"})
	}
	mode := "active"
	if s.readOnly {
		mode = "read_only"
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready", "mode": mode})
}
