// Package process runs instances as local child processes of the sproudchat binary,
// each with SQLite under <dir>/instances/<id>/ on a free loopback port: the embedded
// default for a machine without Docker, and the fast path for tests. Instances outlive
// the control plane: a new Runtime re-adopts running processes from their state files
// instead of starting duplicates.
package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sproudstack/sproudchat/provisioning"
)

// Options configure the runtime.
type Options struct {
	Binary string // the sproudchat binary
	Dir    string // instances live in Dir/instances/<id>
	// ReadyTimeout bounds how long Apply waits for /readyz (default 30s).
	ReadyTimeout time.Duration
	// AfterStep, when set, is called after each step of Apply ("dir", "process").
	AfterStep func(step string)
	// LogMaxBytes rotates app.log to app.log.1 past this size (default 5 MiB).
	LogMaxBytes int64
	Logger      *slog.Logger
}

// Runtime is the local-process driver of provisioning.Runtime.
type Runtime struct {
	opts Options
	log  *slog.Logger
	mu   sync.Mutex
	sups map[string]*supervisor
}

var (
	_ provisioning.Runtime = (*Runtime)(nil)
	_ provisioning.Tools   = (*Runtime)(nil)
)

// state is what survives the control plane, in state.json. It holds no secret.
type state struct {
	ID        string            `json:"id"`
	Slug      string            `json:"slug"`
	Mode      provisioning.Mode `json:"mode"`
	SpecHash  string            `json:"spec_hash"`
	Port      int               `json:"port"`
	PID       int               `json:"pid"`
	StartedAt time.Time         `json:"started_at"`
	Restarts  int               `json:"restarts"`
	LastError string            `json:"last_error,omitempty"`
	Stopped   bool              `json:"stopped,omitempty"` // being destroyed: do not restart
}

// New returns the runtime and re-adopts every instance found under Dir.
func New(o Options) (*Runtime, error) {
	if o.Binary == "" || o.Dir == "" {
		return nil, errors.New("process runtime: Binary and Dir are required")
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.AfterStep == nil {
		o.AfterStep = func(string) {}
	}
	if o.LogMaxBytes == 0 {
		o.LogMaxBytes = 5 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// Children run inside their instance directory: every path handed to them must be
	// absolute.
	bin, err := filepath.Abs(o.Binary)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	o.Binary, o.Dir = bin, dir
	if err := os.MkdirAll(filepath.Join(o.Dir, "instances"), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", o.Dir, err)
	}
	r := &Runtime{opts: o, log: o.Logger, sups: map[string]*supervisor{}}
	ids, err := r.ids()
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		r.supervise(id)
	}
	return r, nil
}

// Close stops supervising and returns when every supervisor has stopped (one may be
// finishing a check under the instance's lock); the instances keep running for the
// next Runtime to adopt.
func (r *Runtime) Close() {
	r.mu.Lock()
	sups := make([]*supervisor, 0, len(r.sups))
	for id, s := range r.sups {
		s.quit()
		sups = append(sups, s)
		delete(r.sups, id)
	}
	r.mu.Unlock()
	for _, s := range sups {
		<-s.exited
	}
}

func (r *Runtime) dir(id string) string       { return filepath.Join(r.opts.Dir, "instances", id) }
func (r *Runtime) statePath(id string) string { return filepath.Join(r.dir(id), "state.json") }
func (r *Runtime) dataDir(id string) string   { return filepath.Join(r.dir(id), "data") }
func (r *Runtime) logPath(id string) string   { return filepath.Join(r.dir(id), "app.log") }

func (r *Runtime) ids() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(r.opts.Dir, "instances"))
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func (r *Runtime) readState(id string) (state, error) {
	b, err := os.ReadFile(r.statePath(id))
	if errors.Is(err, os.ErrNotExist) {
		return state{ID: id}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("read state of %s: %w", id, err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return state{}, fmt.Errorf("parse state of %s: %w", id, err)
	}
	return s, nil
}

func (r *Runtime) writeState(s state) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	return writeAtomic(r.statePath(s.ID), b, 0o600)
}

func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Apply creates or converges the instance.
func (r *Runtime) Apply(ctx context.Context, spec provisioning.Spec) (provisioning.Status, error) {
	if err := spec.Validate(); err != nil {
		return provisioning.Status{}, err
	}
	if err := r.writeFiles(spec); err != nil {
		return provisioning.Status{}, err
	}
	r.opts.AfterStep("dir")
	if err := ctx.Err(); err != nil {
		return provisioning.Status{}, err
	}
	sup := r.supervise(spec.ID)
	for attempt := 0; ; attempt++ {
		st, err := sup.ensure(spec)
		if err != nil {
			return provisioning.Status{}, err
		}
		r.opts.AfterStep("process")
		if err := ctx.Err(); err != nil {
			return provisioning.Status{}, err
		}
		err = r.waitReady(ctx, st)
		if err == nil {
			return r.Status(ctx, spec.ID)
		}
		if ctx.Err() != nil {
			return provisioning.Status{}, ctx.Err()
		}
		// Another process may have taken the port between our check and the bind.
		logs, _ := r.Logs(context.WithoutCancel(ctx), spec.ID, 20)
		if attempt < 2 && strings.Contains(logs, "address already in use") {
			continue
		}
		return provisioning.Status{}, fmt.Errorf("%w: process of %s: %v; last log lines:\n%s", provisioning.ErrNotReady, spec.ID, err, logs)
	}
}

// writeFiles lays out the instance directory: data, secrets as 0600 files passed to the
// app as *_FILE (so a restarted control plane can restart the app without holding
// them), and env.json with everything else.
func (r *Runtime) writeFiles(spec provisioning.Spec) error {
	dir := r.dir(spec.ID)
	for _, d := range []string{dir, r.dataDir(spec.ID), filepath.Join(dir, "secrets")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	env := spec.Environment("", r.dataDir(spec.ID), "")
	delete(env, "SPROUDCHAT_LISTEN_ADDR") // chosen at each start
	for name, value := range spec.Secrets {
		path := filepath.Join(dir, "secrets", name)
		if err := writeAtomic(path, []byte(value), 0o600); err != nil {
			return fmt.Errorf("write secret %s of %s: %w", name, spec.ID, err)
		}
		delete(env, name)
		env[name+"_FILE"] = path
	}
	b, _ := json.MarshalIndent(env, "", "  ")
	if err := writeAtomic(filepath.Join(dir, "env.json"), b, 0o600); err != nil {
		return fmt.Errorf("write env of %s: %w", spec.ID, err)
	}
	return nil
}

func (r *Runtime) waitReady(ctx context.Context, st state) error {
	wctx, cancel := context.WithTimeout(ctx, r.opts.ReadyTimeout)
	defer cancel()
	upstream := "127.0.0.1:" + strconv.Itoa(st.Port)
	return provisioning.WaitReady(wctx, upstream, func() error {
		if !r.isInstanceProcess(st.ID, st.PID) {
			return fmt.Errorf("process %d exited", st.PID)
		}
		return nil
	})
}

// supervise returns the instance's supervisor, starting one if needed.
func (r *Runtime) supervise(id string) *supervisor {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.sups[id]; ok {
		return s
	}
	s := newSupervisor(r, id)
	r.sups[id] = s
	return s
}

// Destroy stops the process (and any tool run left on its data) and removes the
// instance's directory. Absent is success.
func (r *Runtime) Destroy(ctx context.Context, id string) error {
	if found, err := r.stop(id); err != nil || !found {
		return err
	}
	r.killTools(id)
	// A process in its last moments may still add a file (seen once under load:
	// "directory not empty"); the removal is tried again briefly.
	var err error
	for try := 0; try < 10; try++ {
		if err = os.RemoveAll(r.dir(id)); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("remove %s: %w", r.dir(id), err)
}

// DestroyApp stops the process (and any tool run left on its data) and removes its
// secrets and environment; the data dir (and the state and logs) stay. Absent is
// success.
func (r *Runtime) DestroyApp(ctx context.Context, id string) error {
	if found, err := r.stop(id); err != nil || !found {
		return err
	}
	r.killTools(id)
	for _, p := range []string{filepath.Join(r.dir(id), "secrets"), filepath.Join(r.dir(id), "env.json")} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}

// stop stops supervising the instance and its process for good (until the next Apply).
// Reports whether the instance's directory exists.
func (r *Runtime) stop(id string) (bool, error) {
	if id == "" || strings.ContainsAny(id, "/.") {
		return false, fmt.Errorf("%w: instance id %q", provisioning.ErrInvalid, id)
	}
	r.mu.Lock()
	s := r.sups[id]
	delete(r.sups, id)
	r.mu.Unlock()
	if s != nil {
		s.quit()
		<-s.exited
	}
	if _, err := os.Stat(r.dir(id)); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	// Under the lock, so no supervisor (of this or another Runtime) restarts the app
	// between the stop and the removal: once Stopped is written, they let go.
	err := r.locked(id, func() error {
		st, err := r.readState(id)
		if err != nil {
			return err
		}
		st.Stopped = true
		if err := r.writeState(st); err != nil {
			return err
		}
		r.stopProcess(st)
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stop %s: %w", id, err)
	}
	return true, nil
}

// stopProcess stops every process of the instance: the recorded one and any other
// that names its data dir (one started just before a crash, whose pid was never
// recorded). SIGTERM to each process group, then SIGKILL after 10 s.
func (r *Runtime) stopProcess(st state) {
	pids := r.instanceProcesses(st.ID)
	for _, pid := range pids {
		syscall.Kill(-pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(r.instanceProcesses(st.ID)) > 0 {
		time.Sleep(20 * time.Millisecond)
	}
	for _, pid := range r.instanceProcesses(st.ID) {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// isInstanceProcess tells whether pid is alive and is this instance's app: its
// environment names the instance's data dir and its command is serve (a tool run on
// the same data is not the app). A reused pid is never mistaken for it.
func (r *Runtime) isInstanceProcess(id string, pid int) bool {
	return r.processOf(id, pid) == roleApp
}

type role int

const (
	roleNone role = iota
	roleApp
	roleTool
)

// processOf tells whether pid is alive and works on the instance's data, as its app or
// as a tool.
func (r *Runtime) processOf(id string, pid int) role {
	if pid <= 0 {
		return roleNone
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return roleNone
	}
	if i := strings.LastIndexByte(string(stat), ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
		return roleNone // gone, or a zombie awaiting its parent
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	// environ is NUL-separated; a leading NUL makes the first variable match too.
	if err != nil || !strings.Contains("\x00"+string(env), "\x00SPROUDCHAT_DATA_DIR="+r.dataDir(id)+"\x00") {
		return roleNone
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return roleNone
	}
	if args := strings.Split(string(cmdline), "\x00"); len(args) > 1 && args[1] == "serve" {
		return roleApp
	}
	return roleTool
}

// instanceProcesses finds every live app process of the instance by its identity,
// whatever the state file says.
func (r *Runtime) instanceProcesses(id string) []int { return r.processes(id, roleApp) }

// processes finds every live process of the instance in role want.
func (r *Runtime) processes(id string, want role) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && r.processOf(id, pid) == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Status reports one instance. Returns ErrNotFound when its directory does not exist.
func (r *Runtime) Status(ctx context.Context, id string) (provisioning.Status, error) {
	if _, err := os.Stat(r.dir(id)); errors.Is(err, os.ErrNotExist) {
		return provisioning.Status{}, fmt.Errorf("%w: %s", provisioning.ErrNotFound, id)
	}
	st, err := r.readState(id)
	if err != nil {
		return provisioning.Status{}, err
	}
	out := provisioning.Status{ID: id, Slug: st.Slug, Mode: st.Mode, SpecHash: st.SpecHash, LastError: st.LastError,
		Components: []provisioning.Component{{Kind: "dir", Name: r.dir(id), State: "present"}}}
	switch {
	case st.PID == 0:
		out.Phase = provisioning.PhasePartial
	case r.isInstanceProcess(id, st.PID):
		out.Phase = provisioning.PhaseRunning
		out.Upstream = "127.0.0.1:" + strconv.Itoa(st.Port)
		out.Ready = provisioning.Probe(ctx, out.Upstream)
		out.Components = append(out.Components, provisioning.Component{Kind: "app", Name: "pid " + strconv.Itoa(st.PID), State: "running"})
	case st.Restarts >= failedAfter:
		out.Phase = provisioning.PhaseFailed
	default:
		out.Phase = provisioning.PhaseStopped
	}
	return out, nil
}

// List reports every instance directory, orphans included.
func (r *Runtime) List(ctx context.Context) ([]provisioning.Status, error) {
	ids, err := r.ids()
	if err != nil {
		return nil, err
	}
	out := make([]provisioning.Status, 0, len(ids))
	for _, id := range ids {
		st, err := r.Status(ctx, id)
		if errors.Is(err, provisioning.ErrNotFound) {
			continue // destroyed meanwhile
		} else if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Logs returns the last lines of the app's output.
func (r *Runtime) Logs(ctx context.Context, id string, lines int) (string, error) {
	if _, err := os.Stat(r.dir(id)); errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %s", provisioning.ErrNotFound, id)
	}
	var text string
	for _, p := range []string{r.logPath(id) + ".1", r.logPath(id)} {
		b, err := os.ReadFile(p)
		if err == nil {
			text += string(b)
		}
	}
	all := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n"), nil
}

// freePort returns port if nothing listens on it, else a fresh free loopback port.
func freePort(port int) (int, error) {
	if port > 0 {
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
