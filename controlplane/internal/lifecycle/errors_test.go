package lifecycle_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

func TestErrorCode(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want lifecycle.Code
	}{
		{"validation", &lifecycle.ValidationError{Fields: map[string]string{"slug": "is required"}}, lifecycle.CodeValidation},
		{"wrapped validation", fmt.Errorf("create: %w", &lifecycle.ValidationError{}), lifecycle.CodeValidation},
		{"key reused", lifecycle.ErrKeyReused, lifecycle.CodeInvalid},
		{"not found", fmt.Errorf("find instance: %w", lifecycle.ErrNotFound), lifecycle.CodeNotFound},
		{"conflict", fmt.Errorf("%w: slug taken", lifecycle.ErrConflict), lifecycle.CodeConflict},
		{"lease lost", lifecycle.ErrLeaseLost, lifecycle.CodeInternal},
		{"anything else", errors.New("disk full"), lifecycle.CodeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := lifecycle.ErrorCode(tc.err); got != tc.want {
				t.Errorf("ErrorCode(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
