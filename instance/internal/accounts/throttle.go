package accounts

import (
	"sync"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/clock"
)

// ThrottleOptions bound failed logins. A key is refused once it has Limit failures
// within Window, and is let in again as soon as the oldest of them leaves the window:
// nobody is locked out for longer than Window.
type ThrottleOptions struct {
	Window     time.Duration
	PerAccount int
	PerIP      int
}

// DefaultThrottle allows 5 wrong passwords per account and 30 per address in 15 minutes.
var DefaultThrottle = ThrottleOptions{Window: 15 * time.Minute, PerAccount: 5, PerIP: 30}

// maxThrottleKeys caps the memory an attacker can make the throttle hold.
const maxThrottleKeys = 100_000

// throttle counts recent failures per key in memory. An instance is one process, so
// nothing needs sharing; a restart forgets, which only ever favours the user.
type throttle struct {
	mu    sync.Mutex
	clock clock.Clock
	opts  ThrottleOptions
	fails map[string][]time.Time
}

func newThrottle(c clock.Clock, o ThrottleOptions) *throttle {
	return &throttle{clock: c, opts: o, fails: make(map[string][]time.Time)}
}

func accountKey(email string) string { return "a:" + email }
func ipKey(ip string) string         { return "i:" + ip }

func (t *throttle) limit(key string) int {
	if key[0] == 'a' {
		return t.opts.PerAccount
	}
	return t.opts.PerIP
}

// check returns how long to wait if any key is over its limit, else 0.
func (t *throttle) check(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	var wait time.Duration
	for _, k := range keys {
		f := t.recent(k, now)
		if len(f) >= t.limit(k) {
			if w := f[len(f)-t.limit(k)].Add(t.opts.Window).Sub(now); w > wait {
				wait = w
			}
		}
	}
	return wait
}

func (t *throttle) fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	if len(t.fails) >= maxThrottleKeys {
		t.prune(now)
	}
	for _, k := range keys {
		t.fails[k] = append(t.recent(k, now), now)
	}
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}

// recent drops failures older than the window and returns the rest. Callers hold mu.
func (t *throttle) recent(key string, now time.Time) []time.Time {
	f := t.fails[key]
	i := 0
	for i < len(f) && !f[i].After(now.Add(-t.opts.Window)) {
		i++
	}
	if i == len(f) {
		delete(t.fails, key)
		return nil
	}
	f = f[i:]
	t.fails[key] = f
	return f
}

func (t *throttle) prune(now time.Time) {
	for k := range t.fails {
		t.recent(k, now)
	}
	if len(t.fails) >= maxThrottleKeys { // all fresh: drop everything rather than grow
		clear(t.fails)
	}
}
