package provisioning

import (
	"context"
	"errors"
)

// Sentinel errors of every runtime.
var (
	// ErrInvalid: the spec cannot be applied as given; nothing was created.
	ErrInvalid = errors.New("invalid spec")
	// ErrNotFound: the runtime has nothing of this instance.
	ErrNotFound = errors.New("instance not found")
	// ErrNotReady: the instance was created but did not become ready before the deadline.
	ErrNotReady = errors.New("instance not ready")
)

// Phase is where an instance's app stands.
type Phase string

// The phases a runtime reports.
const (
	PhaseRunning  Phase = "running"  // the app process or container runs
	PhaseStarting Phase = "starting" // created, not yet answering /readyz
	PhaseStopped  Phase = "stopped"  // exists but does not run
	PhaseFailed   Phase = "failed"   // keeps dying
	PhasePartial  Phase = "partial"  // some resources exist, the app does not (an interrupted apply or destroy)
)

// Component is one resource of an instance: the app, its database, network or volume.
type Component struct {
	Kind  string // "app", "db", "network", "volume", "dir"
	Name  string
	State string // the runtime's word: "running", "exited", "present", …
}

// Status is an instance as it is.
type Status struct {
	ID         string
	Slug       string
	Phase      Phase
	Upstream   string // host:port on which the edge router reaches the app
	Ready      bool   // /readyz answered 200 when the status was read
	Mode       Mode
	SpecHash   string
	Components []Component
	LastError  string
	// Unowned: none of the instance's objects names the runtime's owner; they predate
	// owner labels and may belong to another control plane sharing the engine. Only a
	// runtime with owners (docker) sets it.
	Unowned bool
}

// Runtime runs instances. Every method is idempotent, so a caller repairs any crash by
// calling again.
type Runtime interface {
	// Apply creates or converges the instance to spec and returns when its app answers
	// /readyz or the context ends. Returns ErrInvalid (creating nothing) for a bad spec,
	// ErrNotReady with the app's last log lines when it does not become ready.
	Apply(ctx context.Context, spec Spec) (Status, error)
	// Destroy removes everything of the instance, its data included. Absent is success.
	Destroy(ctx context.Context, id string) error
	// DestroyApp removes everything of the instance but its data: the app stops, its
	// secrets go, its data stays for a later Apply (which brings it back) or Destroy.
	// Absent is success.
	DestroyApp(ctx context.Context, id string) error
	// Status reports one instance. Returns ErrNotFound when nothing of it exists.
	Status(ctx context.Context, id string) (Status, error)
	// List reports every instance the runtime holds, including ones the caller no longer
	// knows (orphans). A runtime with owners lists its own and unowned ones, never
	// another owner's.
	List(ctx context.Context) ([]Status, error)
	// Logs returns up to lines of the app's latest log output. Returns ErrNotFound when
	// the instance does not exist.
	Logs(ctx context.Context, id string, lines int) (string, error)
}
