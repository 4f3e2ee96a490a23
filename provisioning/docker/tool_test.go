package docker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/platform/testkit/poll"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// toolContainers lists the instance's tool containers, straight from the engine.
func toolContainers(t *testing.T, c *client.Client, id string) []container.Summary {
	t.Helper()
	cs, err := c.ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", LabelInstance+"="+id), filters.Arg("label", LabelRole+"=tool"))})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// withStdinTool is spec with runtimetest.StdinToolImage as its app image: its tools do
// what sproudchat's commands do not (yet).
func withStdinTool(t *testing.T, spec provisioning.Spec) provisioning.Spec {
	spec.App.Image = runtimetest.StdinToolImage(t)
	return spec
}

// blockedTool starts `stdintool wait`, which runs until its stdin ends, and returns its
// container (once it runs), its stdin and the channel RunTool's error arrives on.
func blockedTool(t *testing.T, ctx context.Context, c *client.Client, rt *Runtime, spec provisioning.Spec) (container.Summary, *io.PipeWriter, <-chan error) {
	t.Helper()
	in, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	done := make(chan error, 1)
	go func() { done <- rt.RunTool(ctx, withStdinTool(t, spec), []string{"wait"}, in, io.Discard) }()
	var tool container.Summary
	poll.Eventually(t, "a running tool container", func() bool {
		cs := toolContainers(t, c, spec.ID)
		if len(cs) == 1 && cs[0].State == container.StateRunning {
			tool = cs[0]
			return true
		}
		return false
	})
	return tool, w, done
}

// TestToolStdioAndEnvironment: runtimetest.CheckStdinTool in a tool container; the
// runs leave no container.
func TestToolStdioAndEnvironment(t *testing.T) {
	h := harness(t, nil)
	c := mustClient(t)
	spec, _ := apply(t, h, "toolio")
	runtimetest.CheckStdinTool(t, h.Runtime.(*Runtime), withStdinTool(t, spec), []string{"SPROUDCHAT_DATA_DIR=/data", "SPROUDCHAT_INSTANCE_ID=" + spec.ID})
	if left := toolContainers(t, c, spec.ID); len(left) > 0 {
		t.Fatalf("tool containers left: %v", left)
	}
}

// TestToolContainer reads a running tool container back from the engine: hardened as
// the app, no network, no secrets, the data volume; the instance's status is its app's;
// a cancelled run removes it.
func TestToolContainer(t *testing.T) {
	h := harness(t, nil)
	c := mustClient(t)
	rt := h.Runtime.(*Runtime)
	spec, _ := apply(t, h, "toolbox")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tool, _, done := blockedTool(t, ctx, c, rt, spec)

	app, err := c.ContainerInspect(ctx, appName(spec.Slug))
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.ContainerInspect(ctx, tool.ID)
	if err != nil {
		t.Fatal(err)
	}
	type hardening struct {
		User                     string
		ReadonlyRootfs           bool
		CapDrop, SecurityOpt     []string
		Tmpfs                    map[string]string
		Memory, MemorySwap, CPUs int64
		PIDs                     *int64
		Privileged               bool
	}
	of := func(c container.InspectResponse) hardening {
		hc := c.HostConfig
		return hardening{c.Config.User, hc.ReadonlyRootfs, hc.CapDrop, hc.SecurityOpt, hc.Tmpfs, hc.Memory, hc.MemorySwap, hc.NanoCPUs, hc.PidsLimit, hc.Privileged}
	}
	if diff := cmp.Diff(of(app), of(in)); diff != "" {
		t.Errorf("the tool container's hardening differs from the app's (-app +tool):\n%s", diff)
	}
	var mounts []string
	for _, m := range in.Mounts {
		mounts = append(mounts, string(m.Type)+" "+m.Name+" "+m.Destination)
	}
	type seen struct {
		Name, Network string
		Mounts        []string
		Labels        map[string]string
		FileEnv       bool
	}
	want := seen{Name: "/sproudchat-" + spec.Slug + "-tool-", Network: "none",
		Mounts: []string{string(mount.TypeVolume) + " " + volumeName(spec.Slug) + " /data"},
		Labels: map[string]string{LabelInstance: spec.ID, LabelRole: "tool", LabelSlug: spec.Slug, LabelOwner: testOwner, LabelToolRun: rt.run}}
	got := seen{Name: in.Name[:len(want.Name)], Network: string(in.HostConfig.NetworkMode), Mounts: mounts,
		Labels: in.Config.Labels, FileEnv: strings.Contains(strings.Join(in.Config.Env, " "), "_FILE=")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the tool container (-want +got):\n%s", diff)
	}

	st, err := rt.Status(ctx, spec.ID)
	if err != nil || st.Phase != provisioning.PhaseRunning || !st.Ready {
		t.Errorf("status beside a tool: %+v, %v", st, err)
	}
	if logs, err := rt.Logs(ctx, spec.ID, 50); err != nil || !strings.Contains(logs, "listening") {
		t.Errorf("logs beside a tool are not the app's: %q, %v", logs, err)
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v, want context.Canceled", err)
	}
	if left := toolContainers(t, c, spec.ID); len(left) > 0 {
		t.Fatalf("a cancelled run left %v", left)
	}
}

// TestDestroyRemovesToolContainers: tool containers left running (their control plane
// died) go with Destroy and DestroyApp.
func TestDestroyRemovesToolContainers(t *testing.T) {
	c := mustClient(t)
	for name, destroy := range map[string]func(*Runtime, string) error{
		"Destroy":    func(r *Runtime, id string) error { return r.Destroy(context.Background(), id) },
		"DestroyApp": func(r *Runtime, id string) error { return r.DestroyApp(context.Background(), id) },
	} {
		t.Run(name, func(t *testing.T) {
			h := harness(t, nil)
			spec, _ := apply(t, h, "toolleft")
			_, stdin, done := blockedTool(t, context.Background(), c, h.Runtime.(*Runtime), spec)
			if err := destroy(h.Runtime.(*Runtime), spec.ID); err != nil {
				t.Fatal(err)
			}
			if left := toolContainers(t, c, spec.ID); len(left) > 0 {
				t.Errorf("tool containers left: %v", left)
				stdin.Close() // lets the tool end, so the test does
			}
			if err := <-done; err == nil {
				t.Error("a tool removed by destroy reported success")
			}
		})
	}
}

// TestToolRunRemovesStrayTools: a tool container a previous control plane (another
// Runtime value) left on the instance, running, is removed before the next tool runs,
// so it cannot race it; one of this Runtime's own runs is left alone.
func TestToolRunRemovesStrayTools(t *testing.T) {
	c := mustClient(t)
	h := harness(t, nil)
	rt := h.Runtime.(*Runtime)
	spec, _ := apply(t, h, "toolstray")
	previous, err := newRuntime(c, Options{Owner: testOwner})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stray, strayIn, strayDone := blockedTool(t, ctx, c, previous, spec)
	own, ownIn, ownDone := blockedToolBeside(t, ctx, c, rt, spec, stray.ID)
	var out bytes.Buffer
	if err := rt.RunTool(ctx, withStdinTool(t, spec), []string{"cat"}, strings.NewReader("hello"), &out); err != nil || out.String() != "hello" {
		t.Fatalf("the tool run: %q, %v", out.String(), err)
	}
	var ids []string
	for _, x := range toolContainers(t, c, spec.ID) {
		ids = append(ids, x.ID)
	}
	if !slices.Equal(ids, []string{own.ID}) {
		t.Errorf("tool containers after the run: %v, want only this Runtime's %s (the stray %s removed)", ids, own.ID, stray.ID)
		strayIn.Close()
	}
	if err := <-strayDone; err == nil {
		t.Error("the removed stray tool reported success")
	}
	ownIn.Close()
	if err := <-ownDone; err != nil {
		t.Errorf("this Runtime's own tool run: %v", err)
	}
}

// blockedToolBeside is blockedTool while another tool container (other) runs.
func blockedToolBeside(t *testing.T, ctx context.Context, c *client.Client, rt *Runtime, spec provisioning.Spec, other string) (container.Summary, *io.PipeWriter, <-chan error) {
	t.Helper()
	in, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	done := make(chan error, 1)
	go func() { done <- rt.RunTool(ctx, withStdinTool(t, spec), []string{"wait"}, in, io.Discard) }()
	var tool container.Summary
	poll.Eventually(t, "a second running tool container", func() bool {
		for _, x := range toolContainers(t, c, spec.ID) {
			if x.ID != other && x.State == container.StateRunning {
				tool = x
				return true
			}
		}
		return false
	})
	return tool, w, done
}

// TestEndedToolContainersAreRemoved: a tool container that a dead control plane left
// behind, exited, goes with the instance's next tool run; a running one stays.
func TestEndedToolContainersAreRemoved(t *testing.T) {
	h := harness(t, nil)
	c := mustClient(t)
	rt := h.Runtime.(*Runtime)
	spec, _ := apply(t, h, "toolstale")
	ctx := context.Background()
	tools := withStdinTool(t, spec)
	running, stdin, done := blockedTool(t, ctx, c, rt, spec)
	cfg, host := rt.toolConfig(tools, []string{"exit", "0"}, false)
	stale, err := c.ContainerCreate(ctx, cfg, host, nil, nil, toolName(spec.Slug))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ContainerStart(ctx, stale.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitC, errC := c.ContainerWait(ctx, stale.ID, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case err := <-errC:
		t.Fatal(err)
	}
	if err := rt.RunTool(ctx, tools, []string{"exit", "0"}, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, x := range toolContainers(t, c, spec.ID) {
		left = append(left, x.ID)
	}
	if diff := cmp.Diff([]string{running.ID}, left); diff != "" {
		t.Errorf("tool containers after a run (-the running one +got):\n%s", diff)
	}
	stdin.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
