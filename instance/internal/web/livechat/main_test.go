package livechat_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every session's goroutines have ended with the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
