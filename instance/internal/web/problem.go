package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
)

// Problem is an RFC 9457 problem detail, the body of every API error.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Errors    map[string]string `json:"errors,omitempty"`
	RequestID string            `json:"request_id,omitempty"`

	retryAfter int // seconds, for 429
}

// requestError is an error the web layer raises itself, with the status it means.
type requestError struct {
	status int
	kind   string // the problem type's last segment
	detail string
}

func (e *requestError) Error() string { return e.detail }

func badRequest(format string, args ...any) error {
	return &requestError{http.StatusBadRequest, "bad-request", fmt.Sprintf(format, args...)}
}

var (
	errTooLarge  = &requestError{http.StatusRequestEntityTooLarge, "too-large", "the request body is larger than the limit"}
	errReadOnly  = &requestError{http.StatusLocked, "read-only", "this instance is read-only: changes are not possible"}
	errNoCSRF    = &requestError{http.StatusBadRequest, "csrf", "the CSRF token is missing: send it as X-CSRF-Token or the csrf_token form field"}
	errBadCSRF   = &requestError{http.StatusForbidden, "csrf", "the CSRF token does not match this session"}
	errForbidden = &requestError{http.StatusForbidden, "forbidden", "you do not have permission to do this"}
	errCrossSite = &requestError{http.StatusForbidden, "cross-site", "cross-site requests are refused"}
	errLoginNeed = &requestError{http.StatusUnauthorized, "unauthenticated", "log in or send an API token"}
	// errBodiesBusy: as many public request bodies as the instance receives at once are
	// arriving.
	errBodiesBusy = &requestError{http.StatusServiceUnavailable, "busy", "too many requests are arriving at once; try again in a moment"}
)

const problemBase = "https://sproud.chat/problems/"

// busyRetryAfter is the Retry-After, in seconds, of an answer refused because the
// instance is at its limit of password hashes: one is over in well under a second.
const busyRetryAfter = 1

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
func toProblem(err error) Problem {
	var (
		re *requestError
		he *echo.HTTPError
	)
	p := Problem{Type: "about:blank"}
	if errors.As(err, &re) {
		p.Status, p.Type, p.Detail = re.status, problemBase+re.kind, re.detail
	} else if ie, ok := instance.AsError(err); ok {
		p.Status = statusOf[ie.Code]
		switch {
		case ie.Code == instance.Invalid && len(ie.Fields) > 0:
			p.Type, p.Detail, p.Errors = problemBase+"validation", "some fields are invalid", ie.Fields.Messages(nil)
		case ie.Code == instance.Throttled:
			p.Type, p.Detail = problemBase+"throttled", ie.Error()
			p.retryAfter = int(ie.RetryAfter.Seconds() + 0.999)
		case ie.Code == instance.Busy:
			p.Type, p.Detail = problemBase+"busy", ie.Error()
			p.retryAfter = busyRetryAfter
		case ie.Code == instance.TooLarge:
			p.Type, p.Detail = problemBase+"too-large", err.Error()
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
	if p.Type == problemBase+"busy" {
		if p.Detail == "" {
			p.Detail = instance.ErrBusy.Error()
		}
	} else if p.Status >= 500 {
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
	if p.Status >= 500 && p.Type != problemBase+"busy" { // busy is load, not a fault
		s.log.ErrorContext(c.Request().Context(), "request failed", "error", err.Error(), "request_id", p.RequestID,
			"method", c.Request().Method, "path", c.Request().URL.Path)
	}
	if p.retryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	if isAPI(c) {
		writeProblem(c, p)
		return
	}
	if p.Status == http.StatusUnauthorized {
		redirectToLogin(c)
		return
	}
	s.pages.renderError(c, p)
}

func writeProblem(c echo.Context, p Problem) {
	b, _ := json.Marshal(p)
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	c.Response().Write(b)
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
