// Package problem writes RFC 9457 problem details, the body of every API error of
// sproudchat's HTTP servers, and carries the errors a server raises with their status.
package problem

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Base is the prefix of every problem type sproudchat defines; a type is Base plus a
// kind such as "validation".
const Base = "https://sproud.chat/problems/"

// Type returns the problem type URI of kind, or "about:blank" for an empty kind.
func Type(kind string) string {
	if kind == "" {
		return "about:blank"
	}
	return Base + kind
}

// Problem is an RFC 9457 problem detail. Errors maps a request field to what is wrong
// with it (type .../validation); RequestID lets a person quote the failed request.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Errors    map[string]string `json:"errors,omitempty"`
	RequestID string            `json:"request_id,omitempty"`

	// RetryAfter, when positive, is sent as the Retry-After header (whole seconds,
	// rounded up); it is not part of the document.
	RetryAfter time.Duration `json:"-"`
}

// Error makes a Problem received by a client an error: its title, its detail if any,
// and each field error ("; field message", in field order).
func (p *Problem) Error() string {
	msg := p.Title
	if msg == "" {
		msg = http.StatusText(p.Status)
	}
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	for _, k := range slices.Sorted(maps.Keys(p.Errors)) {
		msg += "; " + k + " " + p.Errors[k]
	}
	return msg
}

// Write sends p as the response: Content-Type, Retry-After if set, the status and the
// JSON document. A missing Title is filled with the status text. It returns the error
// of writing the body.
func Write(w http.ResponseWriter, p Problem) error {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode problem: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((p.RetryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(p.Status)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write problem: %w", err)
	}
	return nil
}

// Error is an error a server raises itself with the status and problem kind it means
// (413 "too-large", 400 "bad-request", …). A server's error handler finds it with
// errors.As and turns it into a Problem with its Problem method.
type Error struct {
	Status int    // HTTP status
	Kind   string // the problem type's last segment; empty for about:blank
	Detail string // shown to the client
}

// New returns an Error of the given status, kind and detail.
func New(status int, kind, detail string) *Error {
	return &Error{Status: status, Kind: kind, Detail: detail}
}

// BadRequest returns a 400 Error of kind "bad-request" with a formatted detail.
func BadRequest(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "bad-request", fmt.Sprintf(format, args...))
}

func (e *Error) Error() string { return e.Detail }

// Problem returns the document e stands for.
func (e *Error) Problem() Problem {
	return Problem{Type: Type(e.Kind), Title: http.StatusText(e.Status), Status: e.Status, Detail: e.Detail}
}
