package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// decodeJSON reads exactly one JSON object into v: the media type must be JSON, unknown
// fields and trailing data are refused, and a body past the limit is 413.
func decodeJSON(c echo.Context, v any) error {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != "application/json" {
		return &requestError{http.StatusUnsupportedMediaType, "media-type", "send the body as application/json"}
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
		field := typ.Field
		if field == "" {
			return badRequest("the body must be a JSON object")
		}
		return badRequest("field %q must be of type %s", field, typ.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("the body could not be read: %v", err)
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// form parses a urlencoded form body, mapping an over-limit body to 413.
func form(c echo.Context) (url.Values, error) {
	if err := c.Request().ParseForm(); err != nil {
		if tooLarge(err) {
			return nil, errTooLarge
		}
		return nil, badRequest("the form could not be read")
	}
	return c.Request().PostForm, nil
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// formValue reads one field of a urlencoded or multipart form body.
func formValue(c echo.Context, name string) (string, error) {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt == "multipart/form-data" {
		// Parts past 1 MiB spill to temporary files; the route's body limit bounds the total.
		if err := c.Request().ParseMultipartForm(1 << 20); err != nil {
			if tooLarge(err) {
				return "", errTooLarge
			}
			return "", badRequest("the form could not be read")
		}
		return c.Request().FormValue(name), nil
	}
	vals, err := form(c)
	if err != nil {
		return "", err
	}
	return vals.Get(name), nil
}
