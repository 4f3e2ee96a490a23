// Package httpbody reads request bodies strictly: a size limit, and JSON that is exactly
// one object of known fields. Its errors are *problem.Error values with the status they
// mean (400, 413, 415), ready for a server's error handler.
package httpbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/sproudstack/sproudchat/platform/problem"
)

// Limit caps r's body at limit bytes: a declared Content-Length past it is refused at
// once, and reading past it fails with an error IsTooLarge recognises. It returns a
// 413 *problem.Error for a declared length past the limit.
func Limit(w http.ResponseWriter, r *http.Request, limit int64) error {
	if r.ContentLength > limit {
		return TooLarge(limit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return nil
}

// TooLarge is the 413 error of a body past limit bytes (limit <= 0: not known).
func TooLarge(limit int64) *problem.Error {
	detail := "the request body is larger than the limit"
	if limit > 0 {
		detail = "the request body is larger than " + size(limit)
	}
	return problem.New(http.StatusRequestEntityTooLarge, "too-large", detail)
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// IsTooLarge reports whether err comes from reading past a Limit (or any
// http.MaxBytesReader), and the limit if so.
func IsTooLarge(err error) (limit int64, ok bool) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return mbe.Limit, true
	}
	return 0, false
}

// DecodeJSON reads exactly one JSON object from r's body into v. The media type must be
// application/json (else 415); unknown fields, malformed JSON, an empty body and
// anything after the object are 400; a body past its Limit is 413. Every error is a
// *problem.Error.
func DecodeJSON(r *http.Request, v any) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return problem.New(http.StatusUnsupportedMediaType, "media-type", "send the body as application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if limit, ok := IsTooLarge(err); ok {
			return TooLarge(limit)
		}
		return problem.BadRequest("the body must hold exactly one JSON object")
	}
	return nil
}

// DecodeOptionalJSON is DecodeJSON for bodies that may be left out: an empty body (or
// one of white space only) leaves v as it is, whatever Content-Type says — clients send
// application/json on every request, and chunked requests carry no length to look at.
func DecodeOptionalJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return decodeError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return DecodeJSON(r, v)
}

func decodeError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	if limit, ok := IsTooLarge(err); ok {
		return TooLarge(limit)
	}
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return problem.BadRequest("the body is not valid JSON")
	case errors.Is(err, io.EOF):
		return problem.BadRequest("the body is empty; send a JSON object")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return problem.BadRequest("the body must be a JSON object")
		}
		return problem.BadRequest("field %q must be of type %s", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return problem.BadRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return problem.BadRequest("the body could not be read")
}
