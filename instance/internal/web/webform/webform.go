// Package webform reads the form bodies of the instance's pages: urlencoded or
// multipart, with the route's body limit answered as 413. JSON bodies are read by
// platform/httpbody.
package webform

import (
	"mime"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/platform/httpbody"
	"github.com/sproudstack/sproudchat/platform/problem"
)

// Values parses a urlencoded form body. Returns a 413 *problem.Error for a body past
// the route's limit, a 400 for one that is not a form.
func Values(c echo.Context) (url.Values, error) {
	if err := c.Request().ParseForm(); err != nil {
		if err, ok := TooLarge(err); ok {
			return nil, err
		}
		return nil, problem.BadRequest("the form could not be read")
	}
	return c.Request().PostForm, nil
}

// Value reads one field of a urlencoded or multipart form body, with Values' errors.
func Value(c echo.Context, name string) (string, error) {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt == "multipart/form-data" {
		// Parts past 1 MiB spill to temporary files; the route's body limit bounds the total.
		if err := c.Request().ParseMultipartForm(1 << 20); err != nil {
			if err, ok := TooLarge(err); ok {
				return "", err
			}
			return "", problem.BadRequest("the form could not be read")
		}
		return c.Request().FormValue(name), nil
	}
	vals, err := Values(c)
	if err != nil {
		return "", err
	}
	return vals.Get(name), nil
}

// TooLarge returns the 413 error for err if it comes from reading past a body limit.
func TooLarge(err error) (error, bool) {
	limit, ok := httpbody.IsTooLarge(err)
	if !ok {
		return nil, false
	}
	return httpbody.TooLarge(limit), true
}
