package api_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them, as
// goleak.VerifyTestMain does, but waits longer for leftovers. The gc tests ask the
// Docker engine through its client (docker.Ping), which may still be handing its
// connection back to its pool when it is closed; the client's transport drops an idle
// connection after 30 s (its IdleConnTimeout), so a connection is a leak only when it
// is still there after that.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		err := goleak.Find()
		for deadline := time.Now().Add(35 * time.Second); err != nil && time.Now().Before(deadline); err = goleak.Find() {
			time.Sleep(time.Second)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
