// Package poll waits in tests for what happens on its own time: a process that starts,
// a goroutine that delivers, a port that opens. Rules measured in time are tested by
// moving a clock instead; this is for effects a test cannot step.
package poll

import (
	"testing"
	"time"
)

// Timeout is how long Eventually waits before failing: generous, since a passing test
// waits only as long as the effect takes and a busy CI machine can be slow.
const Timeout = 60 * time.Second

// interval is the pause between two checks.
const interval = 10 * time.Millisecond

// Eventually calls cond until it returns true, and fails t ("timed out waiting for
// what") if it has not after Timeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, Timeout, what, cond)
}

// EventuallyWithin is Eventually with another timeout, for a test whose point is that
// something happens within a bound.
func EventuallyWithin(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%s)", what, timeout)
		}
		time.Sleep(interval)
	}
}
