package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

// apiError is an error the API raises itself, with the status it means.
type apiError struct {
	status int
	kind   string
	detail string
}

func (e *apiError) Error() string { return e.detail }

func badRequest(format string, a ...any) error {
	return &apiError{http.StatusBadRequest, "bad-request", fmt.Sprintf(format, a...)}
}

var (
	errNoToken  = &apiError{http.StatusUnauthorized, "unauthenticated", "send Authorization: Bearer <token> (sproudctl token create)"}
	errScope    = &apiError{http.StatusForbidden, "forbidden", "this token lacks the scope this request needs"}
	errTooLarge = &apiError{http.StatusRequestEntityTooLarge, "too-large", "the request body is larger than 1 MiB"}
)

const problemBase = "https://sproud.chat/problems/"

// problem maps an error to its RFC 9457 document: the one place where errors become HTTP.
func problem(err error) client.Problem {
	var (
		ae *apiError
		ve *lifecycle.ValidationError
		he *echo.HTTPError
	)
	p := client.Problem{Type: "about:blank"}
	switch {
	case errors.As(err, &ae):
		p.Status, p.Type, p.Detail = ae.status, problemBase+ae.kind, ae.detail
	case errors.As(err, &ve):
		p.Status, p.Type, p.Detail, p.Errors = http.StatusUnprocessableEntity, problemBase+"validation", "some fields are invalid", ve.Fields
	case errors.Is(err, lifecycle.ErrInvalid):
		p.Status, p.Type, p.Detail = http.StatusUnprocessableEntity, problemBase+"invalid", err.Error()
	case errors.Is(err, lifecycle.ErrNotFound):
		p.Status, p.Detail = http.StatusNotFound, "no such resource"
	case errors.Is(err, lifecycle.ErrConflict):
		p.Status, p.Type, p.Detail = http.StatusConflict, problemBase+"conflict", err.Error()
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
	p := problem(err)
	if p.Status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed", "error", err.Error(), "method", c.Request().Method, "path", c.Request().URL.Path)
	}
	if c.Response().Committed {
		return
	}
	b, _ := json.Marshal(p)
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	c.Response().Write(b)
}

// decodeJSON reads exactly one JSON object: JSON media type, no unknown fields, nothing
// after it, at most 1 MiB.
func decodeJSON(c echo.Context, v any) error {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != "application/json" {
		return &apiError{http.StatusUnsupportedMediaType, "media-type", "send the body as application/json"}
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if tooLarge(err) {
			return errTooLarge
		}
		return badRequest("the body must hold exactly one JSON object")
	}
	return nil
}

// decodeOptionalJSON is decodeJSON for bodies that may be left out. An empty body (or
// one of white space only) is no body, whatever Content-Type says: clients send
// application/json on every request, and chunked requests carry no length to look at.
func decodeOptionalJSON(c echo.Context, v any) error {
	r := c.Request()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decodeJSON(c, v)
}

func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case tooLarge(err):
		return errTooLarge
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the body is not valid JSON")
	case errors.Is(err, io.EOF):
		return badRequest("the body is empty; send a JSON object")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("the body must be a JSON object")
		}
		return badRequest("field %q must be of type %s", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("the body could not be read")
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > 1<<20 {
			return errTooLarge
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, 1<<20)
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
