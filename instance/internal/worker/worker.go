// Package worker runs the instance's background loops (mail, notifications, booking
// reminders) so that stopping one never cuts the item it is on in half: a mail being
// handed to the server is handed over, a delivery being made is made and recorded.
package worker

import (
	"context"
	"sync"
	"time"
)

// Options say how often a loop works and how long it may finish after being stopped.
type Options struct {
	// Every is the period between two steps (required).
	Every time.Duration
	// Grace is how long the step in progress when the loop is stopped may still run;
	// then its context ends too. Zero: it ends with the loop's.
	Grace time.Duration
}

// Loop calls step at once and then every o.Every until stop ends, and returns when the
// step in progress has returned. The step runs under work, a context that keeps stop's
// values but ends o.Grace after stop does, so what it has started is finished; it
// checks stop between items, takes no new one once stop has ended, and gives back
// what it claimed and did not start.
func Loop(stop context.Context, o Options, step func(work context.Context)) {
	work, cancel := Finishing(stop, o.Grace)
	defer cancel()
	t := time.NewTicker(o.Every)
	defer t.Stop()
	for stop.Err() == nil {
		step(work)
		select {
		case <-stop.Done():
		case <-t.C:
		}
	}
}

// Finishing returns a context that keeps stop's values and ends grace after stop ends
// (at once when grace is zero), or when cancel is called. Call cancel when done.
func Finishing(stop context.Context, grace time.Duration) (work context.Context, cancel context.CancelFunc) {
	work, cancelWork := context.WithCancel(context.WithoutCancel(stop))
	var mu sync.Mutex
	var timer *time.Timer
	done := false
	unregister := context.AfterFunc(stop, func() {
		mu.Lock()
		defer mu.Unlock()
		if grace <= 0 || done {
			cancelWork()
			return
		}
		timer = time.AfterFunc(grace, cancelWork)
	})
	return work, func() {
		unregister()
		mu.Lock()
		done = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancelWork()
	}
}

// Stopped reports whether stop has ended: a step asks it before taking the next item.
// A nil stop never ends.
func Stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
