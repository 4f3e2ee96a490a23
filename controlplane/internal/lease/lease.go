// Package lease keeps a lease stored in a row (an instance's, a backup's) while its
// holder works, and stops the work when the lease is lost: whoever took it over must
// be the only one acting.
package lease

import (
	"context"
	"time"
)

// Keep calls renew every ttl/3 until ctx ends. When a renewal fails it calls cancel
// (which stops the work) and lost with the error, unless ctx ended first, and returns.
func Keep(ctx context.Context, cancel context.CancelFunc, ttl time.Duration, renew func(context.Context) error, lost func(error)) {
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := renew(ctx); err != nil {
				if ctx.Err() == nil {
					lost(err)
				}
				cancel()
				return
			}
		}
	}
}
