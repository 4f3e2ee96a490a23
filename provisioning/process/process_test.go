package process

import (
	"context"
	"fmt"
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

// processesOf finds, behind the runtime's back, every process whose environment names
// the instance's data dir.
func processesOf(dataDir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil && strings.Contains(string(env), "SPROUDCHAT_DATA_DIR="+dataDir+"\x00") && !strings.Contains(string(stat), ") Z ") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func newRuntime(t *testing.T, dir string, afterStep func(string)) *Runtime {
	t.Helper()
	r, err := New(Options{Binary: runtimetest.Binary(t), Dir: dir, AfterStep: afterStep})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func harnessIn(dir string) runtimetest.New {
	return func(t *testing.T, afterStep func(string)) runtimetest.Harness {
		r := newRuntime(t, dir, afterStep)
		return runtimetest.Harness{
			Runtime: r,
			Leftovers: func(t *testing.T, id string) []string {
				var out []string
				if _, err := os.Stat(r.dir(id)); err == nil {
					out = append(out, "dir "+r.dir(id))
				}
				for _, pid := range processesOf(r.dataDir(id)) {
					out = append(out, fmt.Sprintf("process %d", pid))
				}
				return out
			},
			Steps:     []string{"dir", "process"},
			ServesApp: true,
			Inspect: func(t *testing.T, id string) string {
				var out strings.Builder
				for _, pid := range processesOf(r.dataDir(id)) {
					for _, f := range []string{"environ", "cmdline"} {
						b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
						out.Write(b)
					}
				}
				for _, f := range []string{"state.json", "env.json"} {
					b, _ := os.ReadFile(filepath.Join(r.dir(id), f))
					out.Write(b)
				}
				return out.String()
			},
		}
	}
}

func TestConformance(t *testing.T) { runtimetest.Run(t, harnessIn(t.TempDir())) }

func mustApply(t *testing.T, r *Runtime, prefix string) (provisioning.Spec, provisioning.Status) {
	t.Helper()
	id, slug := runtimetest.Unique(prefix)
	spec := runtimetest.Spec(runtimetest.Harness{}, id, slug)
	t.Cleanup(func() { r.Destroy(context.Background(), id) })
	st, err := r.Apply(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return spec, st
}

func TestDeadProcessIsRestarted(t *testing.T) {
	r := newRuntime(t, t.TempDir(), nil)
	spec, st := mustApply(t, r, "restart")
	pids := processesOf(r.dataDir(spec.ID))
	if len(pids) != 1 {
		t.Fatalf("processes %v, want one", pids)
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
	poll.Eventually(t, "a new ready process", func() bool {
		s, err := r.Status(context.Background(), spec.ID)
		return err == nil && s.Ready && len(processesOf(r.dataDir(spec.ID))) == 1 && processesOf(r.dataDir(spec.ID))[0] != pids[0]
	})
	s, _ := r.Status(context.Background(), spec.ID)
	if s.Upstream != st.Upstream {
		t.Logf("restarted on %s (was %s)", s.Upstream, st.Upstream)
	}
	if !strings.Contains(s.LastError, "exited") {
		t.Errorf("last error %q does not tell of the death", s.LastError)
	}
}

// TestSurvivesControlPlaneRestart: a new Runtime over the same directory adopts the
// running process instead of starting a second one.
func TestSurvivesControlPlaneRestart(t *testing.T) {
	dir := t.TempDir()
	r1 := newRuntime(t, dir, nil)
	spec, st := mustApply(t, r1, "adopt")
	before := processesOf(r1.dataDir(spec.ID))
	r1.Close()
	r2 := newRuntime(t, dir, nil)
	st2, err := r2.Apply(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	after := processesOf(r2.dataDir(spec.ID))
	if len(before) != 1 || len(after) != 1 || before[0] != after[0] || st2.Upstream != st.Upstream {
		t.Fatalf("processes %v → %v, upstream %s → %s; want the same single process", before, after, st.Upstream, st2.Upstream)
	}
	// Its supervision carries over: killed, it comes back.
	syscall.Kill(after[0], syscall.SIGKILL)
	poll.Eventually(t, "the adopted instance to be restarted", func() bool {
		p := processesOf(r2.dataDir(spec.ID))
		return len(p) == 1 && p[0] != after[0]
	})
}

func TestLogRotation(t *testing.T) {
	r, err := New(Options{Binary: runtimetest.Binary(t), Dir: t.TempDir(), LogMaxBytes: 2048})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	spec, st := mustApply(t, r, "rotate")
	for i := 0; i < 40; i++ { // each request logs a line
		if !provisioning.Probe(context.Background(), st.Upstream) {
			t.Fatal("not ready")
		}
	}
	poll.Eventually(t, "the log to rotate", func() bool {
		_, err := os.Stat(filepath.Join(r.dir(spec.ID), "app.log.1"))
		return err == nil
	})
	if fi, _ := os.Stat(r.logPath(spec.ID)); fi.Size() > 64<<10 {
		t.Fatalf("app.log is %d bytes after rotation", fi.Size())
	}
	if logs, _ := r.Logs(context.Background(), spec.ID, 5); !strings.Contains(logs, "request") {
		t.Fatalf("logs after rotation: %q", logs)
	}
}

func TestSecretsStayOffTheCommandLineAndState(t *testing.T) {
	r := newRuntime(t, t.TempDir(), nil)
	spec, _ := mustApply(t, r, "secret")
	key := spec.Secrets["SPROUDCHAT_SECRET_KEY"]
	for _, f := range []string{"state.json", "env.json"} {
		b, _ := os.ReadFile(filepath.Join(r.dir(spec.ID), f))
		if strings.Contains(string(b), key) {
			t.Errorf("%s holds the secret key", f)
		}
	}
	pid := processesOf(r.dataDir(spec.ID))[0]
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if strings.Contains(string(env), key) || !strings.Contains(string(env), "SPROUDCHAT_SECRET_KEY_FILE=") {
		t.Error("the secret key is in the process environment instead of a file")
	}
	fi, _ := os.Stat(filepath.Join(r.dir(spec.ID), "secrets", "SPROUDCHAT_SECRET_KEY"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v", fi.Mode().Perm())
	}
}

// TestRelativeDirectory: a relative --data-dir must work although the app runs inside
// its own instance directory.
func TestRelativeDirectory(t *testing.T) {
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := newRuntime(t, rel, nil)
	if _, st := mustApply(t, r, "relative"); !st.Ready {
		t.Fatalf("not ready: %+v", st)
	}
}

// TestUnrecordedProcessIsAdoptedNotDuplicated: a crash between starting the app and
// recording its pid leaves a process the state does not name. The next apply must not
// start a second one next to it, and destroy must stop it.
func TestUnrecordedProcessIsAdoptedNotDuplicated(t *testing.T) {
	dir := t.TempDir()
	r := newRuntime(t, dir, nil)
	spec, _ := mustApply(t, r, "unrecorded")
	st, _ := r.readState(spec.ID)
	running := st.PID
	st.PID, st.Port = 0, 0 // as if the control plane died before writing them
	if err := r.writeState(st); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r2 := newRuntime(t, dir, nil)
	if _, err := r2.Apply(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if pids := processesOf(r2.dataDir(spec.ID)); len(pids) != 1 {
		t.Fatalf("processes after re-apply: %v (the unrecorded one was %d); want exactly one", pids, running)
	}
	// A stray duplicate beside the recorded process is stopped.
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", processesOf(r2.dataDir(spec.ID))[0]))
	dup := exec.Command(r2.opts.Binary, "serve")
	for _, kv := range strings.Split(strings.TrimRight(string(env), "\x00"), "\x00") {
		if strings.HasPrefix(kv, "SPROUDCHAT_LISTEN_ADDR=") {
			kv = "SPROUDCHAT_LISTEN_ADDR=127.0.0.1:0"
		}
		dup.Env = append(dup.Env, kv)
	}
	dup.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := dup.Start(); err != nil {
		t.Fatal(err)
	}
	go dup.Wait()
	poll.Eventually(t, "the duplicate to run", func() bool { return len(processesOf(r2.dataDir(spec.ID))) == 2 })
	if _, err := r2.Apply(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	poll.Eventually(t, "the duplicate to be stopped", func() bool { return len(processesOf(r2.dataDir(spec.ID))) == 1 })
	if err := r2.Destroy(context.Background(), spec.ID); err != nil {
		t.Fatal(err)
	}
	if pids := processesOf(r2.dataDir(spec.ID)); len(pids) != 0 {
		t.Fatalf("processes after destroy: %v", pids)
	}
}
