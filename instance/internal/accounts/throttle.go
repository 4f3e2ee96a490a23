package accounts

import (
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/clock"
	"github.com/sproudstack/sproudchat/instance/internal/ratelimit"
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

// check returns how long the account or address must wait, 0 if neither must.
func (t *throttle) check(email, ip string) time.Duration {
	return max(t.accounts.Wait(email), t.ips.Wait(ip))
}

func (t *throttle) fail(email, ip string) {
	t.accounts.Hit(email)
	t.ips.Hit(ip)
}

func (t *throttle) reset(email string) { t.accounts.Reset(email) }
