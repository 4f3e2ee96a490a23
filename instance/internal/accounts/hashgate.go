package accounts

import (
	"context"
	"runtime/debug"
	"time"
)

// A password hash costs argon2id's memory (19 MiB by default) for as long as it runs,
// so the number running at once is what decides an instance's peak memory, not the
// number of requests. hashGate bounds it: a few hashes run, a few more callers wait
// briefly, the rest are told to come back (ErrBusy). Every hash of the service (login,
// setup, new users, password changes) goes through one gate.
type hashGate struct {
	slots   chan struct{} // one token per running hash
	waiting chan struct{} // one token per running or waiting caller
	maxWait time.Duration
	// release returns freed memory to the operating system. It runs when the last hash
	// of a burst ends: the Go runtime would otherwise keep the pages for minutes.
	release func()
}

// GateOptions bound the password hashes an instance runs at once.
type GateOptions struct {
	// Slots is how many hashes run at once; 0 means 1.
	Slots int
	// Queue is how many more callers may wait for a slot; 0 means 16 per slot.
	Queue int
	// MaxWait is how long a caller waits for a slot before ErrBusy; 0 means 3 s.
	MaxWait time.Duration
}

func newHashGate(o GateOptions) *hashGate {
	o.Slots = max(o.Slots, 1)
	if o.Queue <= 0 {
		o.Queue = 16 * o.Slots
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 3 * time.Second
	}
	return &hashGate{slots: make(chan struct{}, o.Slots), waiting: make(chan struct{}, o.Slots+o.Queue),
		maxWait: o.MaxWait, release: debug.FreeOSMemory}
}

// do runs f when a slot is free. Returns ErrBusy if the queue is full or no slot frees
// up within maxWait, and ctx's error if the caller gives up first; f has not run then.
func (g *hashGate) do(ctx context.Context, f func()) error {
	select {
	case g.waiting <- struct{}{}:
	default:
		return ErrBusy
	}
	defer func() { <-g.waiting }()
	t := time.NewTimer(g.maxWait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	f()
	<-g.slots
	if len(g.waiting) == 1 { // only this caller: the burst is over
		g.release()
	}
	return nil
}

func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	var (
		h   string
		err error
	)
	if gerr := s.gate.do(ctx, func() { h, err = HashPassword(password, s.opts.Hash) }); gerr != nil {
		return "", gerr
	}
	return h, err
}

func (s *Service) verifyPassword(ctx context.Context, hash, password string) (bool, error) {
	var (
		ok  bool
		err error
	)
	if gerr := s.gate.do(ctx, func() { ok, err = VerifyPassword(hash, password) }); gerr != nil {
		return false, gerr
	}
	return ok, err
}
