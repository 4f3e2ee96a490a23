package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sproudstack/sproudchat/provisioning"
)

// toolWaitDelay bounds how long a finished or killed tool's output is still read: a
// grandchild holding its pipes open must not hold up RunTool.
const toolWaitDelay = 5 * time.Second

// RunTool runs the runtime's binary with args on the instance's data dir, in the
// instance's directory, with only the tool environment (provisioning.ToolEnvironment:
// no secret, no *_FILE) and its own process group. A cancelled ctx kills the group.
// Returns ErrNotFound when the instance has no data dir, ErrInvalid for a bad spec or
// no command, a *provisioning.ToolError when the tool exits non-zero, an error wrapping
// ErrToolInput when reading stdin fails (the tool is killed). It does not wait for a
// stdin whose Read blocks after the tool has exited: its caller unblocks it.
func (r *Runtime) RunTool(ctx context.Context, spec provisioning.Spec, args []string, stdin io.Reader, stdout io.Writer) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if err := provisioning.CheckToolArgs(args); err != nil {
		return err
	}
	if fi, err := os.Stat(r.dataDir(spec.ID)); err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: %s has no data dir", provisioning.ErrNotFound, spec.ID)
	}
	// A broken input ends the run (cause ErrToolInput) rather than reach the tool as an
	// end of input it could take for a complete one.
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	var stderr provisioning.Tail
	cmd := exec.CommandContext(ctx, r.opts.Binary, args...)
	cmd.Dir = r.dir(spec.ID)
	cmd.Env = spec.ToolEnvironment(r.dataDir(spec.ID), "")
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = toolWaitDelay
	var in io.WriteCloser
	if stdin != nil {
		// Not cmd.Stdin: Wait would wait for a Read of stdin that may never return.
		var err error
		if in, err = cmd.StdinPipe(); err != nil {
			return fmt.Errorf("run tool %s for %s: %w", args[0], spec.ID, err)
		}
	}
	r.killStrayTools(spec.ID)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run tool %s for %s: %w", args[0], spec.ID, err)
	}
	if stdin != nil {
		go provisioning.FeedTool(in, stdin, in.Close, abort)
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() > 0 {
		return &provisioning.ToolError{Args: args, Code: exit.ExitCode(), Stderr: stderr.String()}
	}
	if err != nil {
		return fmt.Errorf("run tool %s for %s: %w", args[0], spec.ID, err)
	}
	return nil
}

// StopApp stops the instance's app process and its supervision and keeps everything
// else: the state says stopped, so no supervisor (of this or another Runtime) starts
// it again until the next Apply. Stopped or absent is success.
func (r *Runtime) StopApp(ctx context.Context, id string) error {
	_, err := r.stop(id)
	return err
}

// killStrayTools kills the process groups of tool runs on the instance's data that
// this process did not start: a control plane killed mid-run leaves them, and one
// still at work on the data must not race the run about to start (two restores). A
// tool run leads its own group; its children (pg_dump) are not leaders and go with it.
func (r *Runtime) killStrayTools(id string) {
	for _, pid := range r.processes(id, roleTool) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		i := strings.LastIndexByte(string(stat), ')')
		if err != nil || i < 0 {
			continue
		}
		// After "pid (comm)": state ppid pgrp …
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[1] == strconv.Itoa(os.Getpid()) || f[2] != strconv.Itoa(pid) {
			continue
		}
		r.log.Warn("killed a tool run a previous control plane left", "instance_id", id, "pid", pid)
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// killTools kills the process groups of tool runs still working on the instance's
// data (a control plane that died mid-run leaves them) and waits, up to five seconds,
// until they are gone: a destroy that returns leaves nothing running on the data.
func (r *Runtime) killTools(id string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := r.processes(id, roleTool)
		if len(pids) == 0 || time.Now().After(deadline) {
			return
		}
		for _, pid := range pids {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
