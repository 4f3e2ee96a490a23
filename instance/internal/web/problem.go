package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/web/guard"
	"github.com/sproudstack/sproudchat/platform/problem"
)

// errForbidden refuses what a handler finds the caller may not do.
var errForbidden = guard.ErrForbidden

// busyRetryAfter is the Retry-After of an answer refused because the instance is at
// its limit of password hashes: one is over in well under a second.
const busyRetryAfter = guard.BusyRetryAfter

// statusOf is the HTTP status of each code of the domain's errors.
var statusOf = map[instance.Code]int{
	instance.Invalid:      http.StatusUnprocessableEntity,
	instance.NotFound:     http.StatusNotFound,
	instance.Conflict:     http.StatusConflict,
	instance.Unauthorized: http.StatusUnauthorized,
	instance.Forbidden:    http.StatusForbidden,
	instance.Gone:         http.StatusGone,
	instance.TooLarge:     http.StatusRequestEntityTooLarge,
	instance.Busy:         http.StatusServiceUnavailable,
	instance.Throttled:    http.StatusTooManyRequests,
	instance.Internal:     http.StatusInternalServerError,
}

// toProblem maps any error to the status and problem it means; the one place where
// domain errors become HTTP.
func toProblem(err error) problem.Problem {
	var (
		re *problem.Error
		he *echo.HTTPError
	)
	p := problem.Problem{Type: "about:blank"}
	if errors.As(err, &re) {
		p = re.Problem()
	} else if ie, ok := instance.AsError(err); ok {
		p.Status = statusOf[ie.Code]
		switch {
		case ie.Code == instance.Invalid && len(ie.Fields) > 0:
			p.Type, p.Detail, p.Errors = problem.Base+"validation", "some fields are invalid", ie.Fields.Messages(nil)
		case ie.Code == instance.Throttled:
			p.Type, p.Detail = problem.Base+"throttled", ie.Error()
			p.RetryAfter = ie.RetryAfter
		case ie.Code == instance.Busy:
			p.Type, p.Detail = problem.Base+"busy", ie.Error()
			p.RetryAfter = busyRetryAfter
		case ie.Code == instance.TooLarge:
			p.Type, p.Detail = problem.Base+"too-large", err.Error()
		case ie.Code == instance.NotFound:
			p.Detail = "no such resource"
		case p.Status < 500:
			p.Detail = err.Error()
		}
	} else if errors.As(err, &he) {
		p.Status = he.Code
		if he.Code < 500 {
			p.Detail = fmt.Sprint(he.Message)
		}
	}
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	p.Title = http.StatusText(p.Status)
	if p.Type != problem.Base+"busy" && p.Status >= 500 {
		p.Detail = "something went wrong on our side; the request id helps us find it"
	}
	return p
}

// handleError is echo's HTTPErrorHandler: problem+json under /api and for non-HTML
// clients, an HTML page otherwise. Internal errors are logged with their detail; the
// client sees a generic message.
func (s *Server) handleError(err error, c echo.Context) {
	p := toProblem(err)
	p.RequestID = requestID(c)
	if c.Response().Committed {
		s.log.ErrorContext(c.Request().Context(), "response failed after it started", "error", err.Error(), "request_id", p.RequestID)
		return
	}
	if p.Status >= 500 && p.Type != problem.Base+"busy" { // busy is load, not a fault
		s.log.ErrorContext(c.Request().Context(), "request failed", "error", err.Error(), "request_id", p.RequestID,
			"method", c.Request().Method, "path", c.Request().URL.Path)
	}
	if p.RetryAfter > 0 { // pages too
		c.Response().Header().Set("Retry-After", strconv.Itoa(int((p.RetryAfter+time.Second-1)/time.Second)))
	}
	if isAPI(c) {
		writeProblem(c, p)
		return
	}
	if p.Status == http.StatusUnauthorized {
		redirectToLogin(c)
		return
	}
	s.pages.RenderError(c, p)
}

func writeProblem(c echo.Context, p problem.Problem) {
	if err := problem.Write(c.Response(), p); err != nil {
		c.Logger().Error(err) // the client has gone; nothing else to tell
	}
}

func isAPI(c echo.Context) bool {
	path := c.Request().URL.Path
	return strings.HasPrefix(path, "/api/") || path == "/healthz" || path == "/readyz"
}

func redirectToLogin(c echo.Context) {
	next := c.Request().URL.Path
	if c.Request().Method != http.MethodGet {
		next = "/"
	}
	c.Redirect(http.StatusSeeOther, "/login?next="+urlQueryEscape(next))
}
