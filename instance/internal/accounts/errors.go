package accounts

import (
	"fmt"
	"time"

	"github.com/sproudstack/sproudchat/instance"
)

// Errors of this area that callers tell apart from others of their code. The rest are
// the root package's (instance.ErrNotFound, …).
var (
	// ErrBusy: the instance is at its limit of expensive work (password hashes) and
	// the caller should try again in a moment.
	ErrBusy = &instance.Error{Code: instance.Busy, Message: "busy: too many sign-ins at once, try again in a moment"}
	// ErrLastAdmin is returned when a change would leave the instance without an
	// active admin. It is a conflict.
	ErrLastAdmin = &instance.Error{Code: instance.Conflict, Message: "conflict: at least one active admin must remain"}
)

// throttled says that too many wrong passwords (at login or when changing one's own)
// came for one account or from one address: a Throttled *instance.Error.
func throttled(wait time.Duration) error {
	return &instance.Error{Code: instance.Throttled, RetryAfter: wait,
		Message: fmt.Sprintf("too many wrong passwords; retry in %s", wait.Round(time.Second))}
}
