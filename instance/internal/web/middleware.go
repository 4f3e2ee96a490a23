package web

import (
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/web/guard"
	"github.com/sproudstack/sproudchat/platform/requestid"
)

// The guard's names for what every handler asks of a request.
var (
	principalOf   = guard.PrincipalOf
	mustPrincipal = guard.MustPrincipal
	meta          = guard.Meta
	addressKey    = guard.AddressKey
)

const (
	csrfHeader = guard.CSRFHeader
	csrfField  = guard.CSRFField
)

// withRequestID takes a sane X-Request-ID from the client (the edge router sets one) or
// makes one, puts it in the request's context and echoes it in the response.
func withRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := requestid.Sanitize(c.Request().Header.Get(requestid.Header))
		c.SetRequest(c.Request().WithContext(requestid.NewContext(c.Request().Context(), id)))
		c.Response().Header().Set(requestid.Header, id)
		return next(c)
	}
}

func requestID(c echo.Context) string { return requestid.FromContext(c.Request().Context()) }

// accessLog writes one line per request. It logs the path without the query string
// (the setup link carries its token there), a route's pattern instead of a path that
// carries a token (a booking's link), and never headers or bodies.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		path := c.Request().URL.Path
		if strings.Contains(c.Path(), ":token") {
			path = c.Path()
		}
		attrs := []any{"request_id", requestID(c), "method", c.Request().Method, "path", path,
			"status", c.Response().Status, "duration_ms", float64(time.Since(start).Microseconds()) / 1000, "ip", c.RealIP()}
		if p, ok := principalOf(c); ok {
			attrs = append(attrs, "user_id", p.User.ID)
		}
		s.log.InfoContext(c.Request().Context(), "request", attrs...)
		return nil
	}
}

// securityHeaders keep pages from being framed, sniffed or leaking referrers, and allow
// nothing to load from a third-party host: the privacy promise, enforced by the browser.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		return next(c)
	}
}
