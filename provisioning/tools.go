package provisioning

import (
	"context"
	"errors"
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

// ToolEnvironment is the environment of a tool run for spec: of the app's variables
// (Environment) only SPROUDCHAT_DATA_DIR, SPROUDCHAT_DATABASE_URL (when there is one)
// and SPROUDCHAT_INSTANCE_ID. No secret, no *_FILE: a tool reads the instance's data,
// never its keys or credentials.
func (s Spec) ToolEnvironment(dataDir, databaseURL string) []string {
	env := s.Environment("", dataDir, databaseURL)
	var out []string
	for _, k := range []string{"SPROUDCHAT_DATA_DIR", "SPROUDCHAT_DATABASE_URL", "SPROUDCHAT_INSTANCE_ID"} {
		if v, ok := env[k]; ok && v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// CheckToolArgs refuses a tool run that is none: no arguments means `sproudchat serve`,
// which is the app, not a tool. Returns an error wrapping ErrInvalid.
func CheckToolArgs(args []string) error {
	if len(args) == 0 || args[0] == "serve" {
		return fmt.Errorf("%w: tool arguments %q: name a command other than serve", ErrInvalid, args)
	}
	return nil
}

// Tail keeps the last bytes written to it (up to Max, default 4 KiB): what a tool
// said on standard error last, for its ToolError.
type Tail struct {
	Max int
	b   []byte
}

// Write keeps p's last bytes; it never fails.
func (t *Tail) Write(p []byte) (int, error) {
	max := t.Max
	if max <= 0 {
		max = 4 << 10
	}
	t.b = append(t.b, p...)
	if len(t.b) > max {
		t.b = append(t.b[:0], t.b[len(t.b)-max:]...)
	}
	return len(p), nil
}

// String is what was kept.
func (t *Tail) String() string { return string(t.b) }

// ErrToolInput: reading a tool's standard input failed; the run was stopped.
var ErrToolInput = errors.New("tool input")

// FeedTool copies in to the tool's standard input w, then calls closeInput, which
// tells the tool its input is complete. When reading in fails it calls abort with an
// error wrapping ErrToolInput instead, which must stop the tool before it could take
// the cut for the end of its input. A failed write is the tool's end closed: it stops
// the copy and nothing else. Runtimes run it in its own goroutine.
func FeedTool(w io.Writer, in io.Reader, closeInput func() error, abort context.CancelCauseFunc) {
	var rerr error
	buf := make([]byte, 64<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err == io.EOF {
			closeInput()
			return
		}
		if err != nil {
			rerr = err
			break
		}
	}
	abort(fmt.Errorf("%w: %w", ErrToolInput, rerr))
}
