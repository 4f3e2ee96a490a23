package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lease"
)

// TestKeepStopsTheWorkWhenTheLeaseIsLost: renewals go on until one fails; then the
// work's context is cancelled and the loss reported once.
func TestKeepStopsTheWorkWhenTheLeaseIsLost(t *testing.T) {
	work, cancel := context.WithCancel(context.Background())
	defer cancel()
	renewals, lost := 0, 0
	errGone := errors.New("taken over")
	lease.Keep(work, cancel, 3*time.Millisecond, func(context.Context) error {
		renewals++
		if renewals == 3 {
			return errGone
		}
		return nil
	}, func(err error) {
		if !errors.Is(err, errGone) {
			t.Errorf("lost with %v", err)
		}
		lost++
	})
	if work.Err() == nil || lost != 1 || renewals != 3 {
		t.Fatalf("work cancelled: %v, lost reported %d times, %d renewals; want cancelled, 1, 3", work.Err() != nil, lost, renewals)
	}
}

// TestKeepEndsWithTheWork: when the work ends, Keep returns without reporting a loss.
func TestKeepEndsWithTheWork(t *testing.T) {
	work, cancel := context.WithCancel(context.Background())
	cancel()
	lease.Keep(work, cancel, time.Hour, func(context.Context) error { return nil }, func(error) { t.Error("loss reported") })
}
