package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/platform/httpbody"
	"github.com/sproudstack/sproudchat/platform/problem"
)

// maxBody is the largest request body the API reads.
const maxBody = 1 << 20

var (
	errNoToken = problem.New(http.StatusUnauthorized, "unauthenticated", "send Authorization: Bearer <token> (sproudctl token create)")
	errScope   = problem.New(http.StatusForbidden, "forbidden", "this token lacks the scope this request needs")
)

// statuses maps each domain error code to its HTTP status and problem type: the one
// place where the domain's errors become HTTP.
var statuses = map[lifecycle.Code]struct {
	status int
	kind   string // "" for about:blank
}{
	lifecycle.CodeValidation: {http.StatusUnprocessableEntity, "validation"},
	lifecycle.CodeInvalid:    {http.StatusUnprocessableEntity, "invalid"},
	lifecycle.CodeNotFound:   {http.StatusNotFound, ""},
	lifecycle.CodeConflict:   {http.StatusConflict, "conflict"},
}

// toProblem maps an error to its RFC 9457 document: the API's own errors carry their
// status, the domain's have a code (statuses), echo's its code; anything else is an
// internal error, whose detail only the log gets.
func toProblem(err error) problem.Problem {
	var (
		pe *problem.Error
		ve *lifecycle.ValidationError
		he *echo.HTTPError
	)
	p := problem.Problem{Type: "about:blank"}
	if st, ok := statuses[lifecycle.ErrorCode(err)]; ok {
		p.Status, p.Type, p.Detail = st.status, problem.Type(st.kind), err.Error()
	}
	switch {
	case errors.As(err, &pe):
		p = pe.Problem()
	case errors.As(err, &ve):
		p.Detail, p.Errors = "some fields are invalid", ve.Fields
	case errors.Is(err, lifecycle.ErrNotFound):
		p.Detail = "no such resource" // the same for missing and not yours
	case p.Status != 0:
	case errors.As(err, &he):
		p.Status = he.Code
		if he.Code < 500 {
			p.Detail = fmt.Sprint(he.Message)
		}
	default:
		p.Status = http.StatusInternalServerError
		p.Detail = "something went wrong on our side; the logs have the detail"
	}
	p.Title = http.StatusText(p.Status)
	return p
}

func (s *Server) handleError(err error, c echo.Context) {
	p := toProblem(err)
	if p.Status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed", "error", err.Error(), "method", c.Request().Method, "path", c.Request().URL.Path)
	}
	if c.Response().Committed {
		return
	}
	problem.Write(c.Response(), p)
}

// limitBody refuses a body larger than maxBody: before reading it when its length is
// known, at maxBody bytes otherwise.
func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := httpbody.Limit(c.Response(), c.Request(), maxBody); err != nil {
			return err
		}
		return next(c)
	}
}

func logRequests(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			attrs := []any{"method", c.Request().Method, "path", c.Request().URL.Path, "status", c.Response().Status}
			if t, ok := c.Get(ctxToken).(lifecycle.Token); ok {
				attrs = append(attrs, "token_id", t.ID)
			}
			log.InfoContext(c.Request().Context(), "api request", attrs...)
			return nil
		}
	}
}
