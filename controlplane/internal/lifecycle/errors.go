package lifecycle

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors of the control plane. The API maps each to one HTTP status in one
// place (api.problem); everything else is an internal error.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid input")
	// ErrLeaseLost: another worker holds the instance now; the caller must stop.
	ErrLeaseLost = errors.New("lease lost")
	// ErrKeyUsed: a request with this Idempotency-Key was stored before; its stored
	// response is to be given again (or refused with ErrKeyReused).
	ErrKeyUsed = errors.New("idempotency key used before")
	// ErrKeyReused: an Idempotency-Key came back with another body. It wraps ErrInvalid.
	ErrKeyReused = fmt.Errorf("%w: this Idempotency-Key was used with a different request body", ErrInvalid)
)

// ValidationError lists what is wrong with each field. It wraps ErrInvalid.
type ValidationError struct{ Fields map[string]string }

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("invalid input:")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s: %s;", k, e.Fields[k])
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// invalid returns a *ValidationError for f, or nil when f is empty.
func invalid(f map[string]string) error {
	if len(f) > 0 {
		return &ValidationError{Fields: f}
	}
	return nil
}

// Code names the kind of a domain error for whoever reports it (the API maps each code
// to one HTTP status and problem type).
type Code string

// The codes of the sentinels; CodeInternal for every other error.
const (
	CodeInternal   Code = "internal"
	CodeNotFound   Code = "not-found"
	CodeConflict   Code = "conflict"
	CodeInvalid    Code = "invalid"
	CodeValidation Code = "validation" // a *ValidationError: the fields say what is wrong
)

// ErrorCode returns the code of err: the code of the sentinel it wraps, CodeValidation
// for a *ValidationError, CodeInternal otherwise (ErrLeaseLost included: it never
// leaves the reconciler).
func ErrorCode(err error) Code {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return CodeValidation
	case errors.Is(err, ErrInvalid):
		return CodeInvalid
	case errors.Is(err, ErrNotFound):
		return CodeNotFound
	case errors.Is(err, ErrConflict):
		return CodeConflict
	}
	return CodeInternal
}
