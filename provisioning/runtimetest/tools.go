package runtimetest

// The conformance tests of provisioning.Tools: they run the real sproudchat binary, so
// they need a harness that ServesApp.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/provisioning"
)

// toolsOf returns the harness's runtime as provisioning.Tools.
func toolsOf(t *testing.T, h Harness) provisioning.Tools {
	t.Helper()
	tools, ok := h.Runtime.(provisioning.Tools)
	if !ok {
		t.Fatalf("%T is no provisioning.Tools", h.Runtime)
	}
	return tools
}

// runTool runs args and returns the tool's standard output.
func runTool(t *testing.T, tools provisioning.Tools, spec provisioning.Spec, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := tools.RunTool(ctxFor(t), spec, args, nil, &out)
	return out.String(), err
}

// toolFailed is what a test checks of a *provisioning.ToolError.
type toolFailed struct {
	Code   int
	Stderr bool // holds the expected text
}

func asToolError(t *testing.T, err error, wantStderr string) toolFailed {
	t.Helper()
	var te *provisioning.ToolError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T), want a *provisioning.ToolError", err, err)
	}
	return toolFailed{te.Code, strings.Contains(te.Stderr, wantStderr)}
}

// testToolRuns: a tool runs the instance's binary beside its running app, reports its
// output and, through *ToolError, its exit code and standard error; it leaves nothing
// behind and gets none of the instance's secrets.
func testToolRuns(t *testing.T, nh New) {
	h := nh(t, nil)
	tools := toolsOf(t, h)
	id, slug := Unique("tool")
	spec := Spec(h, id, slug)
	mustApply(t, h, spec)
	before := h.Leftovers(t, id)
	slices.Sort(before)

	out, err := runTool(t, tools, spec, "version")
	if err != nil || !strings.HasPrefix(out, "sproudchat ") {
		t.Fatalf("version: %q, %v; want sproudchat <version>", out, err)
	}
	_, err = runTool(t, tools, spec, "no-such-command")
	if diff := cmp.Diff(toolFailed{2, true}, asToolError(t, err, `unknown command "no-such-command"`)); diff != "" {
		t.Errorf("an unknown command (-want +got):\n%s\n%v", diff, err)
	}
	// migrate reads the secret key (SPROUDCHAT_SECRET_KEY or its _FILE) before it opens
	// the database: a tool that got neither says it is missing.
	_, err = runTool(t, tools, spec, "migrate")
	if diff := cmp.Diff(toolFailed{2, true}, asToolError(t, err, "SPROUDCHAT_SECRET_KEY")); diff != "" {
		t.Errorf("migrate without the instance's secrets (-want +got):\n%s\n%v", diff, err)
	}
	after := h.Leftovers(t, id)
	slices.Sort(after)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("tool runs left objects behind (-before +after):\n%s", diff)
	}
	if st, err := h.Runtime.Status(ctxFor(t), id); err != nil || !st.Ready {
		t.Errorf("the app after tool runs beside it: %+v, %v; want it ready", st, err)
	}
}

// testToolRefuses: no command (which would be a second app) and an instance without
// data are refused, and the refusal creates nothing.
func testToolRefuses(t *testing.T, nh New) {
	h := nh(t, nil)
	tools := toolsOf(t, h)
	id, slug := Unique("notool")
	spec := Spec(h, id, slug)
	t.Cleanup(func() { h.Runtime.Destroy(context.Background(), id) })
	for _, args := range [][]string{nil, {"serve"}} {
		if _, err := runTool(t, tools, spec, args...); !errors.Is(err, provisioning.ErrInvalid) {
			t.Errorf("tool %q: %v, want ErrInvalid", args, err)
		}
	}
	if _, err := runTool(t, tools, spec, "version"); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("a tool on an instance that does not exist: %v, want ErrNotFound", err)
	}
	if left := h.Leftovers(t, id); len(left) > 0 {
		t.Errorf("refused tool runs left %v", left)
	}
	if err := tools.StopApp(ctxFor(t), id); err != nil {
		t.Errorf("stop the app of an instance that does not exist: %v", err)
	}
}

// testStopApp: StopApp stops the app and keeps its data; tools run on the stopped
// instance; the next Apply brings it back with its data.
func testStopApp(t *testing.T, nh New) {
	h := nh(t, nil)
	tools := toolsOf(t, h)
	id, slug := Unique("stop")
	spec := Spec(h, id, slug)
	st := mustApply(t, h, spec)
	setupAda(t, st, spec)
	for i := 0; i < 2; i++ { // the second time finds it stopped
		if err := tools.StopApp(ctxFor(t), id); err != nil {
			t.Fatalf("stop app (%d): %v", i+1, err)
		}
	}
	// A fresh runtime (a restarted control plane) does not start it either.
	fresh := nh(t, nil)
	st, err := fresh.Runtime.Status(ctxFor(t), id)
	if err != nil || st.Phase == provisioning.PhaseRunning || st.Ready {
		t.Fatalf("status after stopping the app: %+v, %v; want it there, not running", st, err)
	}
	if out, err := runTool(t, tools, spec, "version"); err != nil || !strings.HasPrefix(out, "sproudchat ") {
		t.Fatalf("version with the app stopped: %q, %v", out, err)
	}
	st = mustApply(t, h, spec)
	newAppClient(t, st.Upstream).Login("ada@example.org", "conformance password")
}

// testBackupRestore: the instance's own backup tool snapshots it while it serves, and
// its restore tool, fed the snapshot on stdin while the app is stopped, brings the data
// back to that moment; the next Apply serves it.
func testBackupRestore(t *testing.T, nh New) {
	h := nh(t, nil)
	tools := toolsOf(t, h)
	id, slug := Unique("backup")
	spec := Spec(h, id, slug)
	st := mustApply(t, h, spec)
	app := setupAda(t, st, spec)
	app.Must("POST", "/api/v1/users", map[string]string{"name": "Al", "email": "al@example.org", "role": "agent", "password": "agent password 1"}, 201)
	before := kinds(h.Leftovers(t, id))

	var snap bytes.Buffer
	if err := tools.RunTool(ctxFor(t), spec, []string{"backup", "--to", "-", "--known", "-"}, strings.NewReader(""), &snap); err != nil {
		t.Fatalf("backup while the app serves: %v", err)
	}
	// After the snapshot: the restore takes it back.
	app.Must("POST", "/api/v1/users", map[string]string{"name": "Bo", "email": "bo@example.org", "role": "agent", "password": "agent password 2"}, 201)

	if err := tools.StopApp(ctxFor(t), id); err != nil {
		t.Fatal(err)
	}
	_, err := runToolWithInput(t, tools, spec, strings.NewReader("not a snapshot"), "restore", "--from", "-")
	if diff := cmp.Diff(toolFailed{2, true}, asToolError(t, err, "restore")); diff != "" {
		t.Errorf("restore of a stream that is no snapshot (-want +got):\n%s\n%v", diff, err)
	}
	out, err := runToolWithInput(t, tools, spec, bytes.NewReader(snap.Bytes()), "restore", "--from", "-")
	if err != nil {
		t.Fatalf("restore of a %d-byte snapshot: %v", snap.Len(), err)
	}
	var res struct{ Tables, Rows int }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Tables == 0 || res.Rows == 0 {
		t.Fatalf("restore reported %q (%v); want its tables and rows", out, err)
	}

	st = mustApply(t, h, spec)
	if _, err := runTool(t, tools, spec, "restore", "--commit"); err != nil {
		t.Fatalf("restore --commit: %v", err)
	}
	app = newAppClient(t, st.Upstream)
	app.Login("ada@example.org", "conformance password")
	var users []string
	for _, u := range app.Must("GET", "/api/v1/users", nil, 200)["items"].([]any) {
		users = append(users, u.(map[string]any)["email"].(string))
	}
	slices.Sort(users)
	if diff := cmp.Diff([]string{"ada@example.org", "al@example.org"}, users); diff != "" {
		t.Errorf("users after the restore (-the snapshot's +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, kinds(h.Leftovers(t, id))); diff != "" {
		t.Errorf("backup and restore left objects behind (-before +after, by kind):\n%s", diff)
	}
}

// kinds is what kinds of objects there are, as many as there are: a restarted app has
// another pid, the same kind.
func kinds(objects []string) []string {
	out := make([]string, len(objects))
	for i, o := range objects {
		out[i], _, _ = strings.Cut(o, " ")
	}
	slices.Sort(out)
	return out
}

// runToolWithInput runs args with stdin and returns the tool's standard output.
func runToolWithInput(t *testing.T, tools provisioning.Tools, spec provisioning.Spec, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := tools.RunTool(ctxFor(t), spec, args, stdin, &out)
	return out.String(), err
}

// CheckStdinTool holds a runtime's tool runs to what the instance's tools rely on, with
// StdinTool (or StdinToolImage) as spec's binary: stdin and stdout stream through
// unchanged (megabytes of them), an input that breaks off fails the run with
// ErrToolInput instead of reaching the tool as a complete one, the tool's SPROUDCHAT_*
// and *_FILE variables are wantEnv exactly and no secret of spec shows in its
// environment, and its exit code and standard error come back in a ToolError.
func CheckStdinTool(t *testing.T, tools provisioning.Tools, spec provisioning.Spec, wantEnv []string) {
	t.Helper()
	ctx := ctxFor(t)
	in := make([]byte, 3<<20)
	rand.Read(in)
	var out bytes.Buffer
	if err := tools.RunTool(ctx, spec, []string{"cat"}, bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, out.Bytes()) {
		t.Fatalf("cat returned %d bytes of %d sent, not the same", out.Len(), len(in))
	}

	broken := io.MultiReader(bytes.NewReader(in[:1<<20]), iotest.ErrReader(errors.New("the vault broke")))
	if err := tools.RunTool(ctx, spec, []string{"cat"}, broken, io.Discard); !errors.Is(err, provisioning.ErrToolInput) {
		t.Errorf("cat of a broken input: %v, want ErrToolInput", err)
	}

	out.Reset()
	if err := tools.RunTool(ctx, spec, []string{"env"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, kv := range strings.Fields(out.String()) {
		if strings.HasPrefix(kv, "SPROUDCHAT_") || strings.Contains(kv, "_FILE=") {
			ours = append(ours, kv)
		}
	}
	slices.Sort(ours)
	if diff := cmp.Diff(wantEnv, ours); diff != "" {
		t.Errorf("the tool's environment (-want +got):\n%s", diff)
	}
	for name, value := range spec.Secrets {
		if strings.Contains(out.String(), value) {
			t.Errorf("the tool's environment holds %s", name)
		}
	}

	_, err := runTool(t, tools, spec, "exit", "3")
	if diff := cmp.Diff(toolFailed{3, true}, asToolError(t, err, "exiting with 3")); diff != "" {
		t.Errorf("exit 3 (-want +got):\n%s\n%v", diff, err)
	}
}
