package web

import (
	"mime"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/platform/problem"
)

// JSON bodies are read by platform/httpbody (strict: one object, known fields); forms
// here.

// form parses a urlencoded form body, mapping an over-limit body to 413.
func form(c echo.Context) (url.Values, error) {
	if err := c.Request().ParseForm(); err != nil {
		if err, ok := tooLarge(err); ok {
			return nil, err
		}
		return nil, problem.BadRequest("the form could not be read")
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
			if err, ok := tooLarge(err); ok {
				return "", err
			}
			return "", problem.BadRequest("the form could not be read")
		}
		return c.Request().FormValue(name), nil
	}
	vals, err := form(c)
	if err != nil {
		return "", err
	}
	return vals.Get(name), nil
}
