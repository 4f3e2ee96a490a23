// Package requestid gives every HTTP request an id that appears in its log lines, its
// problem documents and the X-Request-ID response header, so a person can quote it.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
)

// Header is the request and response header that carries the id.
const Header = "X-Request-ID"

var valid = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// New returns a fresh random id (16 hex digits).
func New() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Sanitize returns id if it is a sane id to adopt from a client (1–64 letters, digits,
// '.', '_' or '-': the edge router sets one), else a fresh one.
func Sanitize(id string) string {
	if valid.MatchString(id) {
		return id
	}
	return New()
}

type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the id ctx carries, or "" if none.
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Middleware adopts the client's X-Request-ID if sane (else makes one), puts it in the
// request's context and echoes it in the response header. With echo:
// e.Use(echo.WrapMiddleware(requestid.Middleware)).
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := Sanitize(r.Header.Get(Header))
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
	})
}
