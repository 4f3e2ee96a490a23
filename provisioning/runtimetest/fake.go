package runtimetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/sproudstack/sproudchat/provisioning"
)

// Fake is an in-memory provisioning.Runtime for consumers' unit tests. Set an Err field
// to make that method fail; AfterStep sees "created" once an instance exists.
type Fake struct {
	*world
	ApplyErr, DestroyErr, DestroyAppErr, StatusErr, ListErr, LogsErr error
	AfterStep                                                        func(step string)
}

// world is the state that views of one fake share.
type world struct {
	mu        sync.Mutex
	instances map[string]provisioning.Status
	nextPort  int
	calls     map[string]int
}

var _ provisioning.Runtime = (*Fake)(nil)

// NewFake returns an empty fake.
func NewFake() *Fake {
	return &Fake{world: &world{instances: map[string]provisioning.Status{}, nextPort: 20000, calls: map[string]int{}}}
}

// WithAfterStep returns a view of the same instances whose Apply calls fn.
func (f *Fake) WithAfterStep(fn func(step string)) *Fake {
	return &Fake{world: f.world, AfterStep: fn}
}

// Calls returns how often each method was called.
func (f *Fake) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *Fake) count(method string) {
	f.mu.Lock()
	f.calls[method]++
	f.mu.Unlock()
}

// Apply records the instance as running and ready.
func (f *Fake) Apply(ctx context.Context, s provisioning.Spec) (provisioning.Status, error) {
	f.count("Apply")
	if f.ApplyErr != nil {
		return provisioning.Status{}, f.ApplyErr
	}
	if err := s.Validate(); err != nil {
		return provisioning.Status{}, err
	}
	f.mu.Lock()
	st, ok := f.instances[s.ID]
	if !ok || st.Upstream == "" { // new, or data only after DestroyApp
		f.nextPort++
		st = provisioning.Status{ID: s.ID, Slug: s.Slug, Phase: provisioning.PhaseStarting, Upstream: fmt.Sprintf("127.0.0.1:%d", f.nextPort),
			Components: []provisioning.Component{{Kind: "app", Name: s.Slug, State: "created"}}}
		f.instances[s.ID] = st
	}
	f.mu.Unlock()
	if f.AfterStep != nil {
		f.AfterStep("created")
	}
	if err := ctx.Err(); err != nil {
		return provisioning.Status{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st.Phase, st.Ready, st.Mode, st.SpecHash = provisioning.PhaseRunning, true, s.Mode, s.Hash()
	st.Components[0].State = "running"
	f.instances[s.ID] = st
	return st, nil
}

// Destroy forgets the instance.
func (f *Fake) Destroy(_ context.Context, id string) error {
	f.count("Destroy")
	if f.DestroyErr != nil {
		return f.DestroyErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.instances, id)
	return nil
}

// DestroyApp keeps the instance as data only: not running, no upstream.
func (f *Fake) DestroyApp(_ context.Context, id string) error {
	f.count("DestroyApp")
	if f.DestroyAppErr != nil {
		return f.DestroyAppErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.instances[id]; ok {
		st.Phase, st.Ready, st.Upstream = provisioning.PhasePartial, false, ""
		st.Components = []provisioning.Component{{Kind: "data", Name: st.Slug, State: "present"}}
		f.instances[id] = st
	}
	return nil
}

// Status returns the recorded instance or ErrNotFound.
func (f *Fake) Status(_ context.Context, id string) (provisioning.Status, error) {
	f.count("Status")
	if f.StatusErr != nil {
		return provisioning.Status{}, f.StatusErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.instances[id]
	if !ok {
		return provisioning.Status{}, fmt.Errorf("%w: %s", provisioning.ErrNotFound, id)
	}
	return st, nil
}

// List returns every recorded instance by id.
func (f *Fake) List(context.Context) ([]provisioning.Status, error) {
	f.count("List")
	if f.ListErr != nil {
		return nil, f.ListErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]provisioning.Status, 0, len(f.instances))
	for _, st := range f.instances {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Logs returns a line naming the instance.
func (f *Fake) Logs(ctx context.Context, id string, _ int) (string, error) {
	f.count("Logs")
	if f.LogsErr != nil {
		return "", f.LogsErr
	}
	if _, err := f.Status(ctx, id); err != nil {
		return "", err
	}
	return "fake instance " + id, nil
}

// Leftovers lists what the fake holds of id.
func (f *Fake) Leftovers(_ *testing.T, id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.instances[id]; ok {
		return []string{"instance " + id}
	}
	return nil
}
