package poll_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/testkit/poll"
)

func TestEventuallyReturnsOnceTrue(t *testing.T) {
	var n atomic.Int32
	poll.Eventually(t, "the third call", func() bool { return n.Add(1) == 3 })
	if got := n.Load(); got != 3 {
		t.Errorf("cond called %d times, want 3", got)
	}
}

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = format
	for _, a := range args {
		r.msg += " " + strings.TrimSpace(fmtArg(a))
	}
}

func fmtArg(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case time.Duration:
		return v.String()
	}
	return ""
}

func TestEventuallyFailsAfterTimeout(t *testing.T) {
	r := &fatalRecorder{TB: t}
	calls := 0
	// cond is false until the helper has given up (or 1,000 calls, if it never does).
	poll.EventuallyWithin(r, time.Millisecond, "the impossible", func() bool { calls++; return r.msg != "" || calls > 1000 })
	if !strings.Contains(r.msg, "the impossible") {
		t.Errorf("failure %q does not name what was awaited", r.msg)
	}
}
