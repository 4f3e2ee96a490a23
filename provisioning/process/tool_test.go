package process

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sproudstack/sproudchat/platform/testkit/poll"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// toolRuntime is a runtime over dir whose binary is runtimetest.StdinTool: its tools do
// what sproudchat's commands do not (yet).
func toolRuntime(t *testing.T, dir string) *Runtime {
	t.Helper()
	r, err := New(Options{Binary: runtimetest.StdinTool(t), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// blockedTool starts `stdintool wait`, which runs until its stdin ends, and returns its
// stdin and the channel RunTool's error arrives on, once its process runs.
func blockedTool(t *testing.T, ctx context.Context, tools *Runtime, spec provisioning.Spec) (*io.PipeWriter, <-chan error) {
	t.Helper()
	before := len(processesOf(tools.dataDir(spec.ID)))
	in, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	done := make(chan error, 1)
	go func() { done <- tools.RunTool(ctx, spec, []string{"wait"}, in, io.Discard) }()
	poll.Eventually(t, "the tool process", func() bool { return len(processesOf(tools.dataDir(spec.ID))) > before })
	return w, done
}

// TestToolStdioAndEnvironment: runtimetest.CheckStdinTool as a process; its
// environment has nothing but the tool's.
func TestToolStdioAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	spec, _ := mustApply(t, newRuntime(t, dir, nil), "toolio")
	tools := toolRuntime(t, dir)
	runtimetest.CheckStdinTool(t, tools, spec, []string{"SPROUDCHAT_DATA_DIR=" + tools.dataDir(spec.ID), "SPROUDCHAT_INSTANCE_ID=" + spec.ID})
	var out bytes.Buffer
	if err := tools.RunTool(context.Background(), spec, []string{"env"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(out.String())); n != 2 {
		t.Errorf("the tool's environment has %d variables, want its 2:\n%s", n, out.String())
	}
}

// TestToolCancelKillsIt: a cancelled run returns and leaves no process.
func TestToolCancelKillsIt(t *testing.T) {
	dir := t.TempDir()
	app := newRuntime(t, dir, nil)
	spec, _ := mustApply(t, app, "toolcancel")
	ctx, cancel := context.WithCancel(context.Background())
	_, done := blockedTool(t, ctx, toolRuntime(t, dir), spec)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v, want context.Canceled", err)
	}
	if p := processesOf(app.dataDir(spec.ID)); len(p) != 1 {
		t.Fatalf("processes after a cancelled tool run: %v, want the app's alone", p)
	}
}

// TestToolIsNotTheApp: a tool running on the data of a stopped instance is neither
// adopted as its app nor stopped as a duplicate by the next Apply.
func TestToolIsNotTheApp(t *testing.T) {
	dir := t.TempDir()
	app := newRuntime(t, dir, nil)
	spec, _ := mustApply(t, app, "toolnotapp")
	ctx := context.Background()
	if err := app.StopApp(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	stdin, done := blockedTool(t, ctx, toolRuntime(t, dir), spec)
	if st, err := app.Apply(ctx, spec); err != nil || !st.Ready {
		t.Fatalf("apply beside a running tool: %+v, %v", st, err)
	}
	stdin.Close()
	if err := <-done; err != nil {
		t.Fatalf("the tool beside the app: %v", err)
	}
}

// TestDestroyKillsTools: tools left running on an instance's data (their control plane
// died) go with Destroy and DestroyApp.
func TestDestroyKillsTools(t *testing.T) {
	for name, destroy := range map[string]func(*Runtime, string) error{
		"Destroy":    func(r *Runtime, id string) error { return r.Destroy(context.Background(), id) },
		"DestroyApp": func(r *Runtime, id string) error { return r.DestroyApp(context.Background(), id) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			app := newRuntime(t, dir, nil)
			spec, _ := mustApply(t, app, "toolleft")
			stdin, done := blockedTool(t, context.Background(), toolRuntime(t, dir), spec)
			if err := destroy(app, spec.ID); err != nil {
				t.Fatal(err)
			}
			if p := processesOf(app.dataDir(spec.ID)); len(p) > 0 {
				t.Errorf("processes left: %v", p)
				stdin.Close() // lets the tool end, so the test does
			}
			if err := <-done; err == nil {
				t.Error("a tool killed by destroy reported success")
			}
		})
	}
}

// TestToolRunKillsStrayTools: a tool process a previous control plane left on the
// instance's data (its own process group, parent gone) is killed before the next tool
// runs, so it cannot race it; a run of this process is left alone.
func TestToolRunKillsStrayTools(t *testing.T) {
	dir := t.TempDir()
	app := newRuntime(t, dir, nil)
	spec, _ := mustApply(t, app, "toolstray")
	ctx := context.Background()
	if err := app.StopApp(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	tools := toolRuntime(t, dir)
	// The stray: started through a shell that exits, so init adopts it, in a session
	// of its own as RunTool's are, reading a FIFO the test holds open.
	fifo := filepath.Join(t.TempDir(), "stdin")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	hold, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	sh := exec.Command("sh", "-c", `setsid "$0" wait <"$1" >/dev/null 2>&1 &`, runtimetest.StdinTool(t), fifo)
	sh.Env = []string{"SPROUDCHAT_DATA_DIR=" + tools.dataDir(spec.ID)}
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("start the stray: %v %s", err, out)
	}
	var strays []int
	poll.Eventually(t, "the stray tool process", func() bool { strays = processesOf(tools.dataDir(spec.ID)); return len(strays) == 1 })
	t.Cleanup(func() { syscall.Kill(strays[0], syscall.SIGKILL) })
	// This process's run: starting it kills the stray already.
	in, ownIn := io.Pipe()
	t.Cleanup(func() { ownIn.Close() })
	ownDone := make(chan error, 1)
	go func() { ownDone <- tools.RunTool(ctx, spec, []string{"wait"}, in, io.Discard) }()
	poll.Eventually(t, "this process's tool run", func() bool {
		left := processesOf(tools.dataDir(spec.ID))
		return len(left) == 1 && left[0] != strays[0]
	})
	var out bytes.Buffer
	if err := tools.RunTool(ctx, spec, []string{"cat"}, strings.NewReader("hello"), &out); err != nil || out.String() != "hello" {
		t.Fatalf("the tool run: %q, %v", out.String(), err)
	}
	poll.Eventually(t, "the stray to be gone and this process's run to remain", func() bool {
		left := processesOf(tools.dataDir(spec.ID))
		return len(left) == 1 && left[0] != strays[0]
	})
	ownIn.Close()
	if err := <-ownDone; err != nil {
		t.Errorf("this process's own tool run: %v", err)
	}
}
