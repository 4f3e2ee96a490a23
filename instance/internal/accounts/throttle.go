package accounts

import (
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/ratelimit"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// ThrottleOptions bound failed logins. A key is refused once it has its limit of
// failures within Window, and is let in again as soon as the oldest of them leaves the
// window: nobody is locked out for longer than Window.
type ThrottleOptions struct {
	Window     time.Duration
	PerAccount int
	PerIP      int
}

// DefaultThrottle allows 5 wrong passwords per account and 30 per address in 15 minutes.
var DefaultThrottle = ThrottleOptions{Window: 15 * time.Minute, PerAccount: 5, PerIP: 30}

// throttle counts failed logins per account and per address.
type throttle struct {
	accounts, ips *ratelimit.Limiter
}

func newThrottle(c clock.Clock, o ThrottleOptions) *throttle {
	return &throttle{accounts: ratelimit.New(c, o.Window, o.PerAccount), ips: ratelimit.New(c, o.Window, o.PerIP)}
}

// reserve counts a failed login of the account and the address (by its
// ratelimit.AddressKey: an IPv6 address as its /64) before the password is checked, so
// parallel attempts cannot all pass a check that none has yet recorded. It returns how
// long to wait, 0 if the attempt may go; a refused attempt counts nothing.
func (t *throttle) reserve(email, ip string) (failure, time.Duration) {
	acct, wait := t.accounts.Reserve(email)
	if wait > 0 {
		return failure{}, wait
	}
	addr, wait := t.ips.Reserve(ratelimit.AddressKey(ip))
	if wait > 0 {
		acct.Cancel()
		return failure{}, wait
	}
	return failure{acct, addr}, 0
}

// failure is a reserved failed login; a right password takes it back.
type failure struct{ acct, addr ratelimit.Reservation }

// cancel takes the reserved failure back: the attempt was never decided.
func (f failure) cancel() {
	f.acct.Cancel()
	f.addr.Cancel()
}

// succeeded takes the reserved failure back and forgets the account's earlier ones.
func (t *throttle) succeeded(f failure, email string) {
	f.cancel()
	t.accounts.Reset(email)
}
