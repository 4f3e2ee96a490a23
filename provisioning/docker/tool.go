package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/sproudstack/sproudchat/provisioning"
)

// toolName is a one-off tool container's name: unique, so runs never collide, and
// recognisably the instance's.
func toolName(slug string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "sproudchat-" + slug + "-tool-" + hex.EncodeToString(b)
}

// cleanupTimeout bounds the removal of a tool container after its run, which goes on
// when the run's context has ended.
const cleanupTimeout = 30 * time.Second

// RunTool runs `sproudchat <args...>` in a one-off container of the app's image with the
// instance's data volume at /data: labelled role=tool (never taken for the app), the
// app's hardening and limits, no secrets mount and no secret in its environment, no
// network at all for SQLite (the instance's network otherwise, to reach its
// database). stdin (when not nil) is the tool's standard input, closed at its end.
// The container is removed whatever happens, a cancelled ctx included. Returns
// ErrNotFound when the instance has no data volume, ErrInvalid for a bad spec or no
// command, a *provisioning.ToolError when the tool exits non-zero, an error wrapping
// ErrToolInput when reading stdin fails (the tool is stopped). It does not wait for a
// stdin whose Read blocks after the tool has exited: its caller unblocks it.
func (r *Runtime) RunTool(ctx context.Context, s provisioning.Spec, args []string, stdin io.Reader, stdout io.Writer) (err error) {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := provisioning.CheckToolArgs(args); err != nil {
		return err
	}
	vol := volumeName(s.Slug)
	v, err := r.engine.VolumeInspect(ctx, vol)
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%w: %s has no data volume", provisioning.ErrNotFound, s.ID)
	}
	if err != nil {
		return fmt.Errorf("inspect volume %s: %w", vol, err)
	}
	if err := r.taken("volume", vol, v.Labels, s); err != nil {
		return err
	}
	if err := r.removeStrayTools(ctx, s.ID); err != nil {
		return err
	}
	name := toolName(s.Slug)
	cfg, host := r.toolConfig(s, args, stdin != nil)
	created, err := r.engine.ContainerCreate(ctx, cfg, host, nil, nil, name)
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err != nil {
		// A create cut short by ctx may still have happened: remove it by name.
		if ctx.Err() != nil {
			r.engine.ContainerRemove(cleanup, name, container.RemoveOptions{Force: true})
		}
		return fmt.Errorf("create tool container %s: %w", name, err)
	}
	defer func() {
		if rerr := r.engine.ContainerRemove(cleanup, created.ID, container.RemoveOptions{Force: true}); rerr != nil && !cerrdefs.IsNotFound(rerr) && err == nil {
			err = fmt.Errorf("remove tool container %s: %w", name, rerr)
		}
	}()
	return r.attachAndRun(ctx, created.ID, name, args, stdin, stdout)
}

// removeStrayTools removes the instance's tool containers that have ended (a control
// plane that died during a run could not remove its own) and, running or not, those
// another Runtime value made: a control plane killed mid-run leaves them, and one still
// at work on the data must not race the run about to start (two restores). This
// value's own running ones are other runs', and stay.
func (r *Runtime) removeStrayTools(ctx context.Context, id string) error {
	cs, err := r.engine.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", LabelInstance+"="+id), filters.Arg("label", LabelRole+"=tool"))})
	if err != nil {
		return fmt.Errorf("list tool containers of %s: %w", id, err)
	}
	for _, c := range cs {
		ended := c.State != container.StateRunning && c.State != container.StateCreated && c.State != container.StateRestarting
		if !r.mine(c.Labels) || !ended && c.Labels[LabelToolRun] == r.run {
			continue
		}
		if err := r.engine.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("remove stray tool container %s: %w", firstName(c.Names), err)
		}
		r.log.WarnContext(ctx, "removed a tool container a previous control plane left", "instance_id", id, "container", firstName(c.Names))
	}
	return nil
}

// attachAndRun attaches to the created tool container, starts it, streams its input and
// output, and reads its exit code.
func (r *Runtime) attachAndRun(ctx context.Context, id, name string, args []string, stdin io.Reader, stdout io.Writer) error {
	// A broken input ends the run (cause ErrToolInput) rather than reach the tool as an
	// end of input it could take for a complete one.
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	hj, err := r.engine.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: stdin != nil, Stdout: true, Stderr: true})
	if err != nil {
		return fmt.Errorf("attach to tool container %s: %w", name, err)
	}
	defer hj.Close()
	stop := context.AfterFunc(ctx, hj.Close) // unblocks the copies below
	defer stop()
	if err := r.engine.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("start tool container %s: %w", name, err)
	}
	if stdin != nil {
		go provisioning.FeedTool(hj.Conn, stdin, hj.CloseWrite, abort)
	}
	var stderr provisioning.Tail
	_, copyErr := stdcopy.StdCopy(stdout, &stderr, hj.Reader)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if copyErr != nil {
		return fmt.Errorf("tool container %s: output: %w", name, copyErr)
	}
	waitC, errC := r.engine.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	var code int64
	select {
	case w := <-waitC:
		if w.Error != nil {
			return fmt.Errorf("wait for tool container %s: %s", name, w.Error.Message)
		}
		code = w.StatusCode
	case err := <-errC:
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("wait for tool container %s: %w", name, err)
	}
	if code != 0 {
		return &provisioning.ToolError{Args: args, Code: int(code), Stderr: stderr.String()}
	}
	return nil
}

// toolLabels are a tool container's: the instance's, role=tool, and this value's run.
func (r *Runtime) toolLabels(s provisioning.Spec) map[string]string {
	l := r.labels(s, "tool")
	l[LabelToolRun] = r.run
	return l
}

// toolConfig is the tool container for args on spec s's data.
func (r *Runtime) toolConfig(s provisioning.Spec, args []string, stdin bool) (*container.Config, *container.HostConfig) {
	cfg := &container.Config{
		Image:        s.App.Image, // its ENTRYPOINT is the sproudchat binary
		User:         nonRoot,
		Env:          s.ToolEnvironment("/data", ""),
		Cmd:          args,
		Labels:       r.toolLabels(s),
		AttachStdout: true,
		AttachStderr: true,
		AttachStdin:  stdin,
		OpenStdin:    stdin,
		StdinOnce:    stdin,
	}
	host := hardened(s)
	host.NetworkMode = "none"
	if s.Database.Kind != provisioning.SQLite {
		host.NetworkMode = container.NetworkMode(networkName(s.Slug))
	}
	return cfg, host
}

// StopApp stops the instance's app container and keeps it: its restart policy
// (unless-stopped) leaves a stopped container stopped, and the next Apply starts it.
// Stopped or absent is success.
func (r *Runtime) StopApp(ctx context.Context, id string) error {
	if err := validID(id); err != nil {
		return err
	}
	cs, err := r.engine.ContainerList(ctx, container.ListOptions{All: true, Filters: appOf(id)})
	if err != nil {
		return fmt.Errorf("list containers of %s: %w", id, err)
	}
	for _, c := range cs {
		if !r.mine(c.Labels) {
			continue
		}
		if err := r.engine.ContainerStop(ctx, c.ID, container.StopOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("stop container %s: %w", c.ID, err)
		}
	}
	return nil
}
