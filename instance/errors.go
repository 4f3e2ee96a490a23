// Package instance is the root of the instance's domain: what every area (accounts,
// tickets, chat, kb, booking, notify) shares. Today that is the one error type: a code
// that says what kind of failure it is, a message for people and, for invalid input,
// what is wrong with each field. The web layer maps the codes to HTTP status in one
// place; nothing here knows about HTTP.
package instance

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Code classifies an error of the instance's domain.
type Code string

// The codes. Each maps to one HTTP status in the web layer.
const (
	Invalid      Code = "invalid"      // the input is wrong; Fields may say where
	NotFound     Code = "not_found"    // no such thing (or not the caller's)
	Conflict     Code = "conflict"     // the state does not allow it (taken, in use, …)
	Unauthorized Code = "unauthorized" // no or bad credentials
	Forbidden    Code = "forbidden"    // known caller, not allowed
	Gone         Code = "gone"         // it was there once (setup done, link used)
	TooLarge     Code = "too_large"    // past a size limit or a quota
	Busy         Code = "busy"         // at a limit of expensive work; retry soon
	Throttled    Code = "throttled"    // too many attempts; retry after RetryAfter
	Internal     Code = "internal"     // everything else: a fault of ours
)

// Error is the error type of the instance's domain. Wrap it with fmt.Errorf("%w: …") to
// add detail; errors.Is(err, ErrNotFound) is true for every *Error of that code.
type Error struct {
	Code Code
	// Message says what happened, in English; "" uses the code's default text.
	Message string
	// Fields says what is wrong with each field of invalid input.
	Fields Fields
	// RetryAfter is when to try again (Throttled).
	RetryAfter time.Duration
}

// Sentinels, one per code, for errors.Is and for wrapping with "%w: detail".
var (
	ErrInvalid      = &Error{Code: Invalid}
	ErrNotFound     = &Error{Code: NotFound}
	ErrConflict     = &Error{Code: Conflict}
	ErrUnauthorized = &Error{Code: Unauthorized}
	ErrForbidden    = &Error{Code: Forbidden}
	ErrGone         = &Error{Code: Gone}
	ErrTooLarge     = &Error{Code: TooLarge}
	ErrBusy         = &Error{Code: Busy}
	ErrThrottled    = &Error{Code: Throttled}
)

var defaultText = map[Code]string{
	Invalid:      "invalid input",
	NotFound:     "not found",
	Conflict:     "conflict",
	Unauthorized: "not authenticated",
	Forbidden:    "forbidden",
	Gone:         "gone",
	TooLarge:     "too large",
	Busy:         "busy, try again in a moment",
	Throttled:    "too many attempts",
	Internal:     "internal error",
}

// Errorf returns an *Error of code with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + e.Fields[k].String()
		}
		return "invalid input: " + strings.Join(parts, "; ")
	}
	if e.Message != "" {
		return e.Message
	}
	if t, ok := defaultText[e.Code]; ok {
		return t
	}
	return string(e.Code)
}

// Is makes errors.Is(err, ErrXxx) true for every *Error of that code. Only the bare
// sentinels match by code; an error with a message of its own (accounts.ErrLastAdmin)
// matches only itself.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == "" && t.Fields == nil && t.RetryAfter == 0
}

// ErrorCode returns the code of the first *Error in err's chain: "" for nil, Internal
// for an error that is none of ours.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// AsError returns the first *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
