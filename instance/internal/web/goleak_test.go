package web

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sproudstack/sproudchat/platform/testkit/golden"
)

// TestMain fails the package's tests if any goroutine they started is still running
// at the end: servers, hubs, browsers and databases are closed by whoever opened them.
// golden.M also fails the run if a file under testdata is read by no test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(golden.M(m)) }
