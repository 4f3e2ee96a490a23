package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
)

// OrphanStore records when garbage collection first found each orphan.
type OrphanStore interface {
	// FindInstance returns lifecycle.ErrNotFound.
	FindInstance(ctx context.Context, id string) (lifecycle.Instance, error)
	SeeOrphans(ctx context.Context, ids []string, now time.Time) (map[string]time.Time, error)
	OrphansSeen(ctx context.Context, ids []string) (map[string]time.Time, error)
	ForgetOrphans(ctx context.Context, keep []string) error
	// DrillRunning tells whether id is the scratch instance of a restore drill that
	// started after since and has not finished.
	DrillRunning(ctx context.Context, id string, since time.Time) (bool, error)
}

// OrphanRuntime is what garbage collection asks of the runtime.
type OrphanRuntime interface {
	List(ctx context.Context) ([]provisioning.Status, error)
	Destroy(ctx context.Context, id string) error
	DestroyApp(ctx context.Context, id string) error
}

// DefaultOrphanDataGrace: a week for someone to miss an instance orphaned by mistake.
const DefaultOrphanDataGrace = 7 * 24 * time.Hour

// GCOptions configure garbage collection.
type GCOptions struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// DataGrace is how long after the first collection that found an orphan its data
	// (its volumes) may be removed, and then only when asked (default
	// DefaultOrphanDataGrace).
	DataGrace time.Duration
}

// GC collects runtime objects whose instance the store does not know or knows as
// destroyed. The runtime lists only this control plane's objects, and those made before
// objects named their owner (Unowned): those may be another control plane's.
type GC struct {
	store OrphanStore
	rt    OrphanRuntime
	opts  GCOptions
}

// NewGC returns garbage collection over s and rt.
func NewGC(s OrphanStore, rt OrphanRuntime, o GCOptions) *GC {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DataGrace == 0 {
		o.DataGrace = DefaultOrphanDataGrace
	}
	return &GC{store: s, rt: rt, opts: o}
}

// orphans lists the orphans, without what a collection would do.
func (g *GC) orphans(ctx context.Context) ([]lifecycle.Orphan, error) {
	all, err := g.rt.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list runtime: %w", err)
	}
	out := []lifecycle.Orphan{}
	now := g.opts.Clock.Now()
	for _, st := range all {
		// A running drill's scratch instance is in no instance row, on purpose.
		if running, err := g.store.DrillRunning(ctx, st.ID, now.Add(-lifecycle.DrillTimeout)); err != nil {
			return nil, err
		} else if running {
			continue
		}
		o := lifecycle.Orphan{InstanceID: st.ID, Slug: st.Slug, Phase: string(st.Phase), Unowned: st.Unowned}
		inst, err := g.store.FindInstance(ctx, st.ID)
		switch {
		case errors.Is(err, lifecycle.ErrNotFound):
			o.Reason = "unknown to the control plane"
		case err != nil:
			return nil, err
		case inst.State == lifecycle.Destroyed:
			o.Reason = "destroyed"
		default:
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// owned returns the ids of the orphans gc may remove.
func owned(list []lifecycle.Orphan) []string {
	var ids []string
	for _, o := range list {
		if !o.Unowned {
			ids = append(ids, o.InstanceID)
		}
	}
	return ids
}

// Orphans lists the orphans, with when the data of each one a collection found before
// becomes removable.
func (g *GC) Orphans(ctx context.Context) ([]lifecycle.Orphan, error) {
	out, err := g.orphans(ctx)
	if err != nil {
		return nil, err
	}
	seen, err := g.store.OrphansSeen(ctx, owned(out))
	if err != nil {
		return nil, err
	}
	for i, o := range out {
		if t, ok := seen[o.InstanceID]; ok {
			at := t.Add(g.opts.DataGrace)
			out[i].DataRemovableAt = &at
		}
	}
	return out, nil
}

// Collect removes what it may of each orphan: its app (containers, network, secrets) at
// once; its data (volumes) only with volumes and once the grace period since the first
// collection that found the orphan has passed, so that an instance orphaned by mistake
// (a store restored from an old backup, say) is missed by its customers before its data
// is gone. Unowned orphans are reported, never removed: they may belong to another
// control plane on the same engine.
func (g *GC) Collect(ctx context.Context, volumes bool) ([]lifecycle.Orphan, error) {
	out, err := g.orphans(ctx)
	if err != nil {
		return nil, err
	}
	now := g.opts.Clock.Now()
	seen, err := g.store.SeeOrphans(ctx, owned(out), now)
	if err != nil {
		return nil, err
	}
	var kept []string
	for i, o := range out {
		if o.Unowned {
			continue
		}
		removable := seen[o.InstanceID].Add(g.opts.DataGrace)
		if volumes && !now.Before(removable) {
			if err := g.rt.Destroy(ctx, o.InstanceID); err != nil {
				return nil, fmt.Errorf("remove orphan %s: %w", o.InstanceID, err)
			}
			out[i].Removed = lifecycle.RemovedAll
			g.opts.Logger.InfoContext(ctx, "orphan removed with its data", "instance_id", o.InstanceID, "reason", o.Reason)
			continue
		}
		if err := g.rt.DestroyApp(ctx, o.InstanceID); err != nil {
			return nil, fmt.Errorf("remove the app of orphan %s: %w", o.InstanceID, err)
		}
		out[i].Removed, out[i].DataRemovableAt = lifecycle.RemovedApp, &removable
		kept = append(kept, o.InstanceID)
		g.opts.Logger.InfoContext(ctx, "orphan's app removed; data kept", "instance_id", o.InstanceID, "reason", o.Reason, "data_removable_at", removable)
	}
	if err := g.store.ForgetOrphans(ctx, kept); err != nil {
		return nil, err
	}
	return out, nil
}
