package instance_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/instance"
)

func TestErrorCodesMatchThroughWrapping(t *testing.T) {
	lastAdmin := &instance.Error{Code: instance.Conflict, Message: "conflict: at least one active admin must remain"}
	cases := []struct {
		name string
		err  error
		is   error
		want bool
		code instance.Code
		text string
	}{
		{"wrapped sentinel", fmt.Errorf("find ticket 7: %w", instance.ErrNotFound), instance.ErrNotFound, true, instance.NotFound, "find ticket 7: not found"},
		{"other code", fmt.Errorf("%w: slug is taken", instance.ErrConflict), instance.ErrNotFound, false, instance.Conflict, "conflict: slug is taken"},
		{"specific error is its code", lastAdmin, instance.ErrConflict, true, instance.Conflict, "conflict: at least one active admin must remain"},
		{"a code is not a specific error", instance.ErrConflict, lastAdmin, false, instance.Conflict, "conflict"},
		{"fields are invalid input", instance.InvalidField("q", "too_long", "is longer than %d characters", 200), instance.ErrInvalid, true, instance.Invalid, "invalid input: q: is longer than 200 characters"},
		{"throttled", &instance.Error{Code: instance.Throttled, RetryAfter: time.Minute}, instance.ErrThrottled, true, instance.Throttled, "too many attempts"},
		{"not ours", errors.New("disk full"), instance.ErrNotFound, false, instance.Internal, "disk full"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(tc.err, tc.is); got != tc.want {
				t.Errorf("errors.Is = %v, want %v", got, tc.want)
			}
			if got := instance.ErrorCode(tc.err); got != tc.code {
				t.Errorf("ErrorCode = %q, want %q", got, tc.code)
			}
			if got := tc.err.Error(); got != tc.text {
				t.Errorf("Error() = %q, want %q", got, tc.text)
			}
		})
	}
	if instance.ErrorCode(nil) != "" {
		t.Error("ErrorCode(nil) is not empty")
	}
}

func TestFieldsKeepTheFirstProblemAndRenderThroughATranslator(t *testing.T) {
	p := instance.Fields{}
	if p.Err() != nil {
		t.Fatal("no problems make an error")
	}
	p.Add("name", "required", "is required")
	p.Add("name", "too_long", "is longer than %d characters", 100)
	p.Add("body", "too_long", "is longer than %d characters", 2000)
	err := fmt.Errorf("create ticket: %w", p.Err())
	fields, ok := instance.FieldErrors(err)
	if !ok {
		t.Fatal("FieldErrors found none")
	}
	if diff := cmp.Diff(map[string]string{"name": "is required", "body": "is longer than 2000 characters"}, fields.Messages(nil)); diff != "" {
		t.Errorf("English (-want +got):\n%s", diff)
	}
	german := map[string]string{"field.too_long": "ist länger als %d Zeichen"}
	tr := func(key string, args ...any) (string, bool) {
		f, ok := german[key]
		return fmt.Sprintf(f, args...), ok
	}
	want := map[string]string{"name": "is required", "body": "ist länger als 2000 Zeichen"}
	if diff := cmp.Diff(want, fields.Messages(tr)); diff != "" {
		t.Errorf("translated, English where the catalog has no key (-want +got):\n%s", diff)
	}
	if _, ok := instance.FieldErrors(instance.ErrInvalid); ok {
		t.Error("a bare ErrInvalid has field errors")
	}
}
