package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// An operation that changes an instance's objects (Write, Collect) holds the instance
// through a lock object at the target, so that a Collect cannot delete a chunk a
// running Write counted as stored, and two Writes cannot both create a data key. Each
// stores its lock and then looks for others, so of two that start together at least
// one sees the other and steps back (ErrBusy). A running operation renews its lock;
// a lock not renewed for lockTTL is a crashed run's and is ignored.
const (
	lockWrite   = "write"
	lockCollect = "collect"
	lockTTL     = time.Hour
	lockRenew   = 10 * time.Minute
)

type lockBody struct {
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
}

func lockPrefix(id string) string { return instancePrefix(id) + "locks/" }

// lock takes instanceID for an operation named kind-name (a retried Write of the same
// backup takes over its crashed predecessor's lock). Returns ErrBusy while another
// operation holds it.
func (v *Vault) lock(ctx context.Context, instanceID, kind, name string) (unlock func(), err error) {
	key := lockPrefix(instanceID) + kind + "-" + name
	put := func(ctx context.Context) error {
		body, _ := json.Marshal(lockBody{Kind: kind, At: v.opts.Clock.Now().UTC()})
		return v.opts.Target.Put(ctx, key, body)
	}
	if err := put(ctx); err != nil {
		return nil, fmt.Errorf("lock %s: %w", instanceID, err)
	}
	release := func() { _ = v.opts.Target.Delete(context.WithoutCancel(ctx), key) }
	objs, err := v.opts.Target.List(ctx, lockPrefix(instanceID))
	if err != nil {
		release()
		return nil, err
	}
	for _, o := range objs {
		if o.Key == key {
			continue
		}
		b, err := v.opts.Target.Get(ctx, o.Key)
		if errors.Is(err, ErrNotFound) {
			continue // released meanwhile
		}
		var lb lockBody
		if err == nil && json.Unmarshal(b, &lb) == nil && v.opts.Clock.Now().Sub(lb.At) > lockTTL {
			continue
		}
		release()
		return nil, fmt.Errorf("%s %s: %s holds the instance: %w", kind, instanceID, strings.TrimPrefix(o.Key, lockPrefix(instanceID)), ErrBusy)
	}
	// Renew until unlocked: a Write of a large instance may outlast lockTTL.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(lockRenew)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = put(context.WithoutCancel(ctx)) // a failed renewal only shortens the lock's life
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			release()
		})
	}, nil
}
