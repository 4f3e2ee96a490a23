// Package ratelimit counts recent events per key in a sliding window: failed logins per
// account and address, contact-form posts per address. An instance is one process, so
// memory is the right place; a restart forgets, which only ever favours the user.
//
// Checking a limit and counting the event are one step (Take, Reserve): a limit that
// checks, does slow work, then records can be passed by sending in parallel.
package ratelimit

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/sproudstack/sproudchat/platform/clock"
)

// DefaultMaxKeys caps the memory an attacker can make a limiter hold: about 100 bytes
// a key plus its events.
const DefaultMaxKeys = 100_000

// Limiter allows Limit events per key within Window. A key over its limit waits until
// its oldest event leaves the window: nobody is shut out longer than Window. Past
// MaxKeys keys the least recently used key is forgotten, one at a time, never all: a
// flood of fresh keys cannot reset the count of a key that is still in use.
type Limiter struct {
	mu     sync.Mutex
	clock  clock.Clock
	window time.Duration
	limit  int
	keys   *simplelru.LRU[string, []time.Time]
}

// New returns a limiter holding at most DefaultMaxKeys keys.
func New(c clock.Clock, window time.Duration, limit int) *Limiter {
	return NewSized(c, window, limit, DefaultMaxKeys)
}

// NewSized returns a limiter holding at most maxKeys keys.
func NewSized(c clock.Clock, window time.Duration, limit, maxKeys int) *Limiter {
	keys, err := simplelru.NewLRU[string, []time.Time](max(maxKeys, 1), nil)
	if err != nil {
		panic("ratelimit: " + err.Error()) // only for a size below 1, excluded above
	}
	return &Limiter{clock: c, window: window, limit: limit, keys: keys}
}

// Take counts an event of key and returns 0 if key is under its limit; otherwise it
// counts nothing and returns how long key must wait.
func (l *Limiter) Take(key string) time.Duration {
	_, wait := l.Reserve(key)
	return wait
}

// Reservation is one counted event, which Cancel takes back: a login reserves a failure
// before it checks the password and cancels it when the password was right.
type Reservation struct {
	l   *Limiter
	key string
	at  time.Time
}

// Reserve is Take that can be taken back. The Reservation is zero (and its Cancel does
// nothing) when the wait is not 0.
func (l *Limiter) Reserve(key string) (Reservation, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	ev := l.recent(key, now)
	if len(ev) >= l.limit {
		return Reservation{}, ev[len(ev)-l.limit].Add(l.window).Sub(now)
	}
	// A new slice: the old one may be shared with nothing, but copying keeps Cancel
	// and concurrent readers from ever seeing a half-written backing array.
	l.keys.Add(key, append(ev[:len(ev):len(ev)], now))
	return Reservation{l: l, key: key, at: now}, 0
}

// Cancel takes the event back. Calling it twice, or on a zero Reservation, is harmless.
func (r *Reservation) Cancel() {
	if r.l == nil {
		return
	}
	l := r.l
	r.l = nil
	l.mu.Lock()
	defer l.mu.Unlock()
	ev, ok := l.keys.Peek(r.key)
	if !ok {
		return
	}
	for i := len(ev) - 1; i >= 0; i-- {
		if ev[i].Equal(r.at) {
			rest := append(append([]time.Time{}, ev[:i]...), ev[i+1:]...)
			if len(rest) == 0 {
				l.keys.Remove(r.key)
			} else {
				l.keys.Add(r.key, rest)
			}
			return
		}
	}
}

// Reset forgets key's events.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys.Remove(key)
}

// Len returns how many keys the limiter holds.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys.Len()
}

// recent returns key's events inside the window (oldest first), marking key as used.
// Callers hold mu.
func (l *Limiter) recent(key string, now time.Time) []time.Time {
	ev, ok := l.keys.Get(key)
	if !ok {
		return nil
	}
	i := 0
	for i < len(ev) && !ev[i].After(now.Add(-l.window)) {
		i++
	}
	return ev[i:]
}
