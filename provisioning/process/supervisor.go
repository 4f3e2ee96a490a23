package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sproudstack/sproudchat/provisioning"
)

// failedAfter restarts in a row make an instance "failed"; it is still retried, slowly.
const failedAfter = 5

// supervisor keeps one instance's process running: it restarts it with backoff when it
// dies and rotates its log. Every start decision holds an flock on the instance
// directory, so two runtimes (or two control planes) never start duplicates.
type supervisor struct {
	r         *Runtime
	id        string
	done      chan struct{}
	exited    chan struct{} // closed when loop has returned
	quitOnce  sync.Once
	nextStart time.Time
}

func newSupervisor(r *Runtime, id string) *supervisor {
	s := &supervisor{r: r, id: id, done: make(chan struct{}), exited: make(chan struct{})}
	go s.loop()
	return s
}

func (s *supervisor) quit() { s.quitOnce.Do(func() { close(s.done) }) }

// locked runs fn holding the instance's lock. Returns os.ErrNotExist when the instance
// directory is gone.
func (r *Runtime) locked(id string, fn func() error) error {
	f, err := os.OpenFile(filepath.Join(r.dir(id), "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", id, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

// ensure makes the instance run with spec: a running process of the same spec is kept
// (re-adopted), one of another spec is replaced.
func (s *supervisor) ensure(spec provisioning.Spec) (state, error) {
	var st state
	err := s.r.locked(s.id, func() error {
		var err error
		if st, err = s.r.readState(s.id); err != nil {
			return err
		}
		st.ID, st.Slug, st.Mode, st.Stopped = spec.ID, spec.Slug, spec.Mode, false
		s.adoptUnrecorded(&st)
		alive := s.r.isInstanceProcess(s.id, st.PID)
		if alive && st.SpecHash == spec.Hash() {
			return s.r.writeState(st)
		}
		if alive {
			s.r.log.Info("spec changed: restarting app process", "instance_id", s.id, "pid", st.PID)
			s.r.stopProcess(st)
		}
		st.SpecHash, st.Restarts, st.LastError = spec.Hash(), 0, ""
		st, err = s.start(st)
		return err
	})
	return st, err
}

// adoptUnrecorded handles processes the state file does not name: a crash between
// starting the app and recording its pid leaves one running. With the recorded process
// dead (or none recorded), the first such process becomes the instance's and any others
// are stopped; with it alive, all others are stopped. Reports whether st changed. The
// caller holds the lock.
func (s *supervisor) adoptUnrecorded(st *state) bool {
	changed := false
	for _, pid := range s.r.instanceProcesses(s.id) {
		switch {
		case pid == st.PID:
		case !s.r.isInstanceProcess(s.id, st.PID):
			s.r.log.Warn("adopting an app process the state did not record", "instance_id", s.id, "pid", pid)
			st.PID, changed = pid, true
			if port := listenPort(pid); port > 0 {
				st.Port = port
			}
		default:
			s.r.log.Warn("stopping a duplicate app process", "instance_id", s.id, "pid", pid)
			syscall.Kill(-pid, syscall.SIGTERM)
		}
	}
	return changed
}

// listenPort reads the port an app process was told to listen on.
func listenPort(pid int) int {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return 0
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		if addr, ok := strings.CutPrefix(kv, "SPROUDCHAT_LISTEN_ADDR="); ok {
			if _, p, err := net.SplitHostPort(addr); err == nil {
				n, _ := strconv.Atoi(p)
				return n
			}
		}
	}
	return 0
}

// start launches the app; the caller holds the lock. The process writes straight into
// its log file and has its own process group: it outlives this process, and no broken
// pipe or Ctrl-C of the control plane reaches it.
func (s *supervisor) start(st state) (state, error) {
	b, err := os.ReadFile(filepath.Join(s.r.dir(s.id), "env.json"))
	if err != nil {
		return st, fmt.Errorf("read env of %s: %w", s.id, err)
	}
	var env map[string]string
	if err := json.Unmarshal(b, &env); err != nil {
		return st, fmt.Errorf("parse env of %s: %w", s.id, err)
	}
	port, err := freePort(st.Port)
	if err != nil {
		return st, err
	}
	env["SPROUDCHAT_LISTEN_ADDR"] = "127.0.0.1:" + strconv.Itoa(port)
	logf, err := os.OpenFile(s.r.logPath(s.id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return st, fmt.Errorf("open log of %s: %w", s.id, err)
	}
	defer logf.Close()
	cmd := exec.Command(s.r.opts.Binary, "serve")
	cmd.Dir = s.r.dir(s.id)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	slices.Sort(cmd.Env)
	if err := cmd.Start(); err != nil {
		return st, fmt.Errorf("start %s for %s: %w", s.r.opts.Binary, s.id, err)
	}
	go cmd.Wait() // reap our child when it exits; adopted ones are reaped by init
	st.PID, st.Port, st.StartedAt = cmd.Process.Pid, port, time.Now().UTC()
	s.r.log.Info("app process started", "instance_id", s.id, "pid", st.PID, "port", port)
	return st, s.r.writeState(st)
}

func (s *supervisor) loop() {
	defer close(s.exited)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		err := s.r.locked(s.id, s.check)
		if errors.Is(err, os.ErrNotExist) {
			continue // not laid out yet, or destroyed
		}
		if err != nil {
			s.r.log.Warn("supervise instance", "instance_id", s.id, "error", err.Error())
		}
	}
}

// check restarts a dead process (with exponential backoff up to 30 s) and rotates the
// log; the caller holds the lock.
func (s *supervisor) check() error {
	st, err := s.r.readState(s.id)
	if err != nil || st.Stopped || st.SpecHash == "" {
		return err
	}
	s.rotate()
	if s.adoptUnrecorded(&st) {
		return s.r.writeState(st)
	}
	if s.r.isInstanceProcess(s.id, st.PID) {
		if st.Restarts > 0 && time.Since(st.StartedAt) > time.Minute {
			st.Restarts, st.LastError = 0, ""
			return s.r.writeState(st)
		}
		return nil
	}
	if time.Now().Before(s.nextStart) {
		return nil
	}
	tail, _ := s.r.Logs(context.Background(), s.id, 3)
	st.Restarts++
	st.LastError = fmt.Sprintf("process %d exited; last output: %s", st.PID, tail)
	backoff := time.Second << min(st.Restarts-1, 5)
	s.nextStart = time.Now().Add(min(backoff, 30*time.Second))
	s.r.log.Warn("app process died: restarting", "instance_id", s.id, "restarts", st.Restarts)
	_, err = s.start(st)
	return err
}

// rotate copies app.log to app.log.1 and truncates it once it passes the limit. The app
// appends (O_APPEND), so it keeps writing at the new end.
func (s *supervisor) rotate() {
	path := s.r.logPath(s.id)
	fi, err := os.Stat(path)
	if err != nil || fi.Size() <= s.r.opts.LogMaxBytes {
		return
	}
	src, err := os.Open(path)
	if err != nil {
		return
	}
	defer src.Close()
	dst, err := os.OpenFile(path+".1", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	_, cerr := io.Copy(dst, src)
	dst.Close()
	if cerr == nil {
		os.Truncate(path, 0)
	}
}
