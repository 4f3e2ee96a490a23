package accounts

import (
	"context"
	"math"
	"runtime"
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
	// release returns a finished hash's memory to the operating system at once. The
	// Go runtime would otherwise let garbage grow to twice the live heap before it
	// collects (with two hashes running, over 100 MB) and keep the pages for minutes.
	// It costs a collection of a small heap (the hash's own block holds no pointers)
	// and a few madvise calls: milliseconds beside a hash's hundreds.
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

// hashBaseMemory is what an instance holds besides its running hashes: the app, its
// caches, a few hundred chat connections.
const hashBaseMemory = 48 << 20

// HashSlots is how many hashes with p may run at once under a Go memory limit of limit
// bytes (math.MaxInt64 for none): what the limit leaves beside the rest of the instance,
// over what one hash costs with the garbage it leaves; never more than the processors
// that run them (a hash is pure CPU, more at once only queue inside), at most 4, at
// least 1.
func HashSlots(limit int64, p HashParams) int {
	n := min(runtime.NumCPU(), 4)
	if limit > 0 && limit < math.MaxInt64 {
		per := int64(p.MemoryKiB) << 10 * 3 / 2
		n = min(n, int((limit-hashBaseMemory)/per))
	}
	return max(n, 1)
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
	defer func() {
		<-g.slots
		g.release()
	}()
	f()
	return nil
}

// HashesAtOnce is how many password hashes the service runs at once.
func (s *Service) HashesAtOnce() int { return cap(s.gate.slots) }

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
