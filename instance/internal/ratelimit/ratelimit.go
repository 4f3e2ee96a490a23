// Package ratelimit counts recent events per key in a sliding window: failed logins per
// account and address, contact-form posts per address. An instance is one process, so
// memory is the right place; a restart forgets, which only ever favours the user.
package ratelimit

import (
	"sync"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/clock"
)

// maxKeys caps the memory an attacker can make a limiter hold.
const maxKeys = 100_000

// Limiter allows Limit events per key within Window. A key over its limit waits until
// its oldest event leaves the window: nobody is shut out longer than Window.
type Limiter struct {
	mu     sync.Mutex
	clock  clock.Clock
	window time.Duration
	limit  int
	events map[string][]time.Time
}

// New returns a limiter.
func New(c clock.Clock, window time.Duration, limit int) *Limiter {
	return &Limiter{clock: c, window: window, limit: limit, events: map[string][]time.Time{}}
}

// Wait returns how long key must wait before its next event is allowed, 0 if it may go.
func (l *Limiter) Wait(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	ev := l.recent(key, now)
	if len(ev) < l.limit {
		return 0
	}
	return ev[len(ev)-l.limit].Add(l.window).Sub(now)
}

// Hit records an event of key.
func (l *Limiter) Hit(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if len(l.events) >= maxKeys {
		for k := range l.events {
			l.recent(k, now)
		}
		if len(l.events) >= maxKeys { // all fresh: forget rather than grow
			clear(l.events)
		}
	}
	l.events[key] = append(l.recent(key, now), now)
}

// Reset forgets key's events.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.events, key)
}

// recent drops events older than the window and returns the rest. Callers hold mu.
func (l *Limiter) recent(key string, now time.Time) []time.Time {
	ev := l.events[key]
	i := 0
	for i < len(ev) && !ev[i].After(now.Add(-l.window)) {
		i++
	}
	if i == len(ev) {
		delete(l.events, key)
		return nil
	}
	ev = ev[i:]
	l.events[key] = ev
	return ev
}
