package provisioning

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Tools is what a runtime offers beside Runtime for an instance's data: it runs the
// instance's own binary against that data (DESIGN.md: "exec for backups"), so the
// control plane never opens an instance's database itself. A runtime that stores
// instance data implements it.
type Tools interface {
	// RunTool runs `sproudchat <args...>` against the data of spec's instance: the data
	// dir and database its app uses (SPROUDCHAT_DATA_DIR, SPROUDCHAT_DATABASE_URL and
	// SPROUDCHAT_INSTANCE_ID set as for the app), none of its other secrets, no network
	// beyond its database, its own resource limits, whether the app runs or is stopped.
	// stdin may be nil; stdout receives the tool's standard output as it is written. A
	// tool that exits non-zero returns a *ToolError. Nothing of the run is left behind.
	RunTool(ctx context.Context, spec Spec, args []string, stdin io.Reader, stdout io.Writer) error
	// StopApp stops the instance's app and keeps everything else (data, secrets,
	// network); the next Apply starts it again. Stopped or absent is success.
	StopApp(ctx context.Context, id string) error
}

// ToolError is a tool run that exited non-zero.
type ToolError struct {
	Args   []string
	Code   int
	Stderr string // the tool's last lines of standard error
}

func (e *ToolError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = "no output"
	}
	return fmt.Sprintf("sproudchat %s exited with code %d: %s", strings.Join(e.Args, " "), e.Code, msg)
}
