package accounts

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Sentinel errors of the instance's domain. The web layer maps them to HTTP status in
// one place; other areas (tickets, chat, …) reuse them.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrInvalid      = errors.New("invalid input")
	ErrUnauthorized = errors.New("not authenticated")
	ErrForbidden    = errors.New("forbidden")
	ErrGone         = errors.New("gone")
	// ErrTooLarge: an upload passes a size limit or the instance's quota.
	ErrTooLarge = errors.New("too large")
	// ErrBusy: the instance is at its limit of expensive work (password hashes) and
	// the caller should try again in a moment.
	ErrBusy = errors.New("busy: too many sign-ins at once, try again in a moment")
	// ErrLastAdmin is returned when a change would leave the instance without an
	// active admin. It wraps ErrConflict.
	ErrLastAdmin = fmt.Errorf("%w: at least one active admin must remain", ErrConflict)
)

// ValidationError lists what is wrong with each field. It wraps ErrInvalid.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Problems collects field errors; Err returns nil when there were none.
type Problems map[string]string

// Add records msg for field unless the field already has a message.
func (p Problems) Add(field, msg string) {
	if _, ok := p[field]; !ok {
		p[field] = msg
	}
}

// Err returns a *ValidationError, or nil if p is empty.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Fields: p}
}

// ThrottledError says that too many wrong passwords (at login or when changing one's
// own) came for one account or from one address.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many wrong passwords; retry in %s", e.RetryAfter.Round(time.Second))
}
