package web

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine they started is still running
// at the end: servers, hubs, browsers and databases are closed by whoever opened them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
