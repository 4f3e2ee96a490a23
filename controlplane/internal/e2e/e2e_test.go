package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"

	cpclient "github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/platform/testkit/poll"
	"github.com/sproudstack/sproudchat/provisioning/docker"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// leftovers lists what of instance id remains in the runtime, read behind its back.
func (p *plane) leftovers(id string) []string {
	p.t.Helper()
	if p.runtime == "process" {
		var out []string
		dir := filepath.Join(p.dataDir, "runtime", "instances", id)
		if _, err := os.Stat(dir); err == nil {
			out = append(out, "dir")
		}
		// Any process still serving the instance's data, recorded or not.
		procs, _ := os.ReadDir("/proc")
		for _, e := range procs {
			env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err == nil && strings.Contains(string(env), "SPROUDCHAT_DATA_DIR="+filepath.Join(dir, "data")+"\x00") && !strings.Contains(string(stat), ") Z ") {
				out = append(out, "process "+e.Name())
			}
		}
		return out
	}
	return p.dockerObjects(filters.NewArgs(filters.Arg("label", docker.LabelInstance+"="+id)), func(map[string]string) bool { return true })
}

// dockerObjects lists the containers, volumes and networks that match f and whose
// labels keep takes, read from the engine.
func (p *plane) dockerObjects(f filters.Args, keep func(labels map[string]string) bool) []string {
	p.t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var out []string
	cs, _ := c.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	for _, x := range cs {
		if keep(x.Labels) {
			out = append(out, "container "+x.Names[0])
		}
	}
	vs, _ := c.VolumeList(ctx, volume.ListOptions{Filters: f})
	for _, x := range vs.Volumes {
		if keep(x.Labels) {
			out = append(out, "volume "+x.Name)
		}
	}
	ns, _ := c.NetworkList(ctx, network.ListOptions{Filters: f})
	for _, x := range ns {
		if keep(x.Labels) {
			out = append(out, "network "+x.Name)
		}
	}
	return out
}

// checkDockerObjects reads the instance's app container back from the engine: every
// object names this control plane as its owner, and neither docker inspect nor the
// app's environment shows the setup token (a secret, passed as a file).
func (p *plane) checkDockerObjects(id, setupToken string) {
	p.t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	cs, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelInstance+"="+id))})
	if err != nil || len(cs) != 1 {
		p.t.Fatalf("containers of %s: %v, %v", id, cs, err)
	}
	in, err := c.ContainerInspect(ctx, cs[0].ID)
	if err != nil {
		p.t.Fatal(err)
	}
	owner := in.Config.Labels[docker.LabelOwner]
	if !strings.HasPrefix(owner, "cp-") {
		p.t.Errorf("the app container's owner label is %q", owner)
	}
	vs, _ := c.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", docker.LabelInstance+"="+id))})
	ns, _ := c.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", docker.LabelInstance+"="+id))})
	if len(vs.Volumes) != 1 || vs.Volumes[0].Labels[docker.LabelOwner] != owner || len(ns) != 1 || ns[0].Labels[docker.LabelOwner] != owner {
		p.t.Errorf("the volume and network do not name owner %s: %+v %+v", owner, vs.Volumes, ns)
	}
	b, _ := json.Marshal(in)
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", in.State.Pid))
	if err != nil {
		p.t.Fatalf("the app's environment: %v", err)
	}
	if setupToken == "" || bytes.Contains(b, []byte(setupToken)) || bytes.Contains(environ, []byte(setupToken)) {
		p.t.Errorf("the setup token (%q) shows in docker inspect or the app's environment", setupToken)
	}
	if !bytes.Contains(environ, []byte("SPROUDCHAT_SETUP_TOKEN_FILE=")) {
		p.t.Errorf("the app's environment names no setup token file:\n%s", bytes.ReplaceAll(environ, []byte{0}, []byte{'\n'}))
	}
	for _, m := range in.Mounts {
		if m.Destination == "/run/secrets" && m.Source != filepath.Join(p.dataDir, "secrets", owner, id) {
			p.t.Errorf("secrets come from %s, want the data dir", m.Source)
		}
	}
}

func (p *plane) create(slug string) cpclient.Instance {
	p.t.Helper()
	inst, err := p.api.CreateInstance(context.Background(), cpclient.CreateInstance{CustomerID: "cus_e2e", Slug: slug, Plan: "starter",
		AdminEmail: "owner@example.org"}, "")
	if err != nil {
		p.t.Fatal(err)
	}
	p.removeAtEnd(inst.ID)
	return inst
}

// removeAtEnd destroys the instance when the test ends and waits until it is gone
// before serve stops: asking alone left containers, networks and volumes behind when
// serve stopped first (18 containers after a day of runs). Unlike destroyAtEnd it
// reports nothing: the test may have destroyed it already, or failed.
func (p *plane) removeAtEnd(id string) {
	p.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := p.api.Destroy(ctx, id); err == nil {
			p.api.WaitFor(ctx, id, func(cpclient.Instance) {}, "destroyed")
		}
	})
}

func uniqueSlug(prefix string) string {
	_, s := runtimetest.Unique(prefix)
	return s
}

// TestInstanceLifecycle is billing's and the customer's whole story, through the API and
// the edge router, on both runtimes.
func TestInstanceLifecycle(t *testing.T) {
	onEachRuntime(t, func(t *testing.T, p *plane) {
		ctx := context.Background()
		inst := p.create(uniqueSlug("e2e"))
		type created struct {
			State     string
			SetupLink bool
		}
		if diff := cmp.Diff(created{"provisioning", true}, created{inst.State, inst.SetupURL != ""}); diff != "" {
			t.Fatalf("create answered (-want +got):\n%s", diff)
		}
		p.wait(inst.ID, "active")
		setup, _ := url.Parse(inst.SetupURL)
		if p.runtime == "docker" {
			p.checkDockerObjects(inst.ID, setup.Query().Get("token"))
		}
		warned := strings.Count(p.output(), "the process runtime runs every instance as this user with no memory limit")
		if want := map[string]int{"process": 1, "docker": 0}[p.runtime]; warned != want {
			t.Errorf("serve --runtime %s warned %d times about the process runtime, want %d", p.runtime, warned, want)
		}

		// The customer opens the setup link at their URL, through the edge router.
		c := p.customer(inst.URL)
		if code, _ := c.Call("GET", "/readyz", nil); code != 200 {
			t.Fatalf("instance through the edge: %d", code)
		}
		if code, out := c.Call("POST", "/api/v1/setup", map[string]string{"token": setup.Query().Get("token"), "name": "Olivia Owner",
			"email": "owner@example.org", "password": "owner password 1"}); code != 201 {
			t.Fatalf("setup through the edge: %d %v", code, out)
		}
		c.Login("owner@example.org", "owner password 1")
		if code, out := c.Call("POST", "/api/v1/users", map[string]string{"name": "Anna Agent", "email": "anna@example.org", "role": "agent",
			"password": "anna password 1"}); code != 201 {
			t.Fatalf("create user: %d %v", code, out)
		}

		// Billing suspends: reads work, writes get 423.
		if _, err := p.api.Suspend(ctx, inst.ID, "invoice overdue"); err != nil {
			t.Fatal(err)
		}
		sus := p.wait(inst.ID, "suspended")
		type suspended struct {
			SuspendedAt, PurgeAfter bool
			Grace                   time.Duration
		}
		got := suspended{SuspendedAt: sus.SuspendedAt != nil, PurgeAfter: sus.PurgeAfter != nil}
		if got.SuspendedAt && got.PurgeAfter {
			got.Grace = sus.PurgeAfter.Sub(*sus.SuspendedAt)
		}
		if diff := cmp.Diff(suspended{true, true, 30 * 24 * time.Hour}, got); diff != "" {
			t.Fatalf("suspended (-want +got):\n%s", diff)
		}
		if code, _ := c.Call("POST", "/api/v1/users", map[string]string{"name": "Ben", "email": "ben@example.org", "role": "agent",
			"password": "ben password 12"}); code != 423 {
			t.Fatalf("write while suspended: %d, want 423", code)
		}
		if code, out := c.Call("GET", "/api/v1/users", nil); code != 200 || len(out["items"].([]any)) != 2 {
			t.Fatalf("read while suspended: %d %v", code, out)
		}

		// Resumed: writable, the earlier user still there.
		if _, err := p.api.Resume(ctx, inst.ID); err != nil {
			t.Fatal(err)
		}
		p.wait(inst.ID, "active")
		if code, out := c.Call("POST", "/api/v1/users", map[string]string{"name": "Ben", "email": "ben@example.org", "role": "agent",
			"password": "ben password 12"}); code != 201 {
			t.Fatalf("write after resume: %d %v", code, out)
		}
		if code, out := c.Call("GET", "/api/v1/users", nil); code != 200 || !strings.Contains(fmt.Sprint(out), "anna@example.org") {
			t.Fatalf("the earlier user is gone: %v", out)
		}

		// Destroyed: nothing left, the edge says 410.
		if _, err := p.api.Destroy(ctx, inst.ID); err != nil {
			t.Fatal(err)
		}
		p.wait(inst.ID, "destroyed")
		if left := p.leftovers(inst.ID); len(left) > 0 {
			t.Fatalf("left after destroy: %v", left)
		}
		if code, _ := c.Call("GET", "/", nil); code != 410 {
			t.Fatalf("edge after destroy: %d, want 410", code)
		}
		evs, _ := p.api.Events(ctx, inst.ID)
		var types []string
		for _, e := range evs.Items {
			types = append(types, e.Type)
		}
		for _, want := range []string{"instance.created", "instance.activated", "instance.suspended", "instance.resumed", "instance.destroyed"} {
			if !strings.Contains(strings.Join(types, " "), want) {
				t.Errorf("events %v lack %s", types, want)
			}
		}
	})
}

// TestCrashRecovery kills serve with SIGKILL in the middle of a create and of a destroy;
// restarted, it converges and leaves no orphan.
func TestCrashRecovery(t *testing.T) {
	onEachRuntime(t, func(t *testing.T, p *plane) {
		ctx := context.Background()
		inst := p.create(uniqueSlug("crash"))
		// Kill as soon as the runtime has started on it, before it is ready.
		poll.Eventually(t, "the runtime to start on the instance", func() bool { return len(p.leftovers(inst.ID)) > 0 })
		p.kill(syscall.SIGKILL)
		if got, _ := p.api.Instance(ctx, inst.ID); got.State == "active" {
			t.Log("the create finished before the kill; the restart still has to adopt it")
		}
		p.start()
		p.wait(inst.ID, "active")
		c := p.customer(inst.URL)
		if code, _ := c.Call("GET", "/readyz", nil); code != 200 {
			t.Fatalf("instance after recovery: %d", code)
		}

		if _, err := p.api.Destroy(ctx, inst.ID); err != nil {
			t.Fatal(err)
		}
		poll.Eventually(t, "the destroy to begin", func() bool {
			got, _ := p.api.Instance(ctx, inst.ID)
			return got.State == "destroying" || got.State == "destroyed"
		})
		p.kill(syscall.SIGKILL)
		p.start()
		p.wait(inst.ID, "destroyed")
		if left := p.leftovers(inst.ID); len(left) > 0 {
			t.Fatalf("left after recovery: %v", left)
		}
		orphans, err := p.api.Orphans(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range orphans.Items {
			if o.InstanceID == inst.ID {
				t.Fatalf("orphan after recovery: %+v", o)
			}
		}
	})
}

// onEachRuntime runs fn in parallel subtests, each with a started control plane on the
// process runtime and on Docker.
func onEachRuntime(t *testing.T, fn func(t *testing.T, p *plane)) {
	onEachRuntimeWith(t, nil, fn)
}

// onEachRuntimeWith is onEachRuntime with prepare run on each plane before its start
// (more serve flags, environment).
func onEachRuntimeWith(t *testing.T, prepare func(t *testing.T, p *plane), fn func(t *testing.T, p *plane)) {
	for _, rt := range []string{"process", "docker"} {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			p := newPlane(t, rt)
			if prepare != nil {
				prepare(t, p)
			}
			p.start()
			fn(t, p)
		})
	}
}

// TestRunScript runs the README's `make run` script (process runtime, fresh data dir):
// it prints a token and a create command, and that command works as printed.
func TestRunScript(t *testing.T) {
	dir, api, edge := t.TempDir(), freeAddr(t), freeAddr(t)
	p := &plane{t: t, dataDir: dir, apiAddr: api, edgeAddr: edge, out: &bytes.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command("bash", filepath.Join(runtimetest.Root(), "scripts", "run.sh"))
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "SPROUDCTL_BINARY=" + sproudctl(t),
		"SPROUDCHAT_BINARY=" + runtimetest.Binary(t), "SPROUDCTL_DATA_DIR=" + dir, "SPROUDCTL_API_ADDR=" + api,
		"SPROUDCTL_EDGE_ADDR=" + edge, "SPROUDCTL_RUNTIME=process", "VERSION=test"}
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{&p.mu, p.out}, lockedWriter{&p.mu, p.out}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.kill(syscall.SIGTERM) })
	poll.Eventually(t, "the printed create command", func() bool { return strings.Contains(p.output(), "instance create") })
	out := p.output()
	exp := regexp.MustCompile(`export (SPROUDCTL_SERVER=\S+) (SPROUDCTL_TOKEN=spt_[0-9a-f]+)`).FindStringSubmatch(out)
	create := regexp.MustCompile(`\S+ (instance create .*--wait)`).FindStringSubmatch(out)
	if exp == nil || create == nil {
		t.Fatalf("the script did not print the token and the command:\n%s", out)
	}
	poll.Eventually(t, "the API", func() bool {
		res, err := http.Get("http://" + api + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == 200
	})
	cmd := exec.Command(sproudctl(t), append(strings.Fields(create[1]), "-o", "json")...)
	cmd.Env = []string{exp[1], exp[2]}
	res, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(res), `"state": "active"`) {
		t.Fatalf("the printed command: %v\n%s\nserve:\n%s", err, res, p.output())
	}
	var inst cpclient.Instance
	json.Unmarshal(res[bytes.IndexByte(res, '{'):], &inst)
	if inst.ID != "" {
		cl := cpclient.New("http://"+api, strings.TrimPrefix(exp[2], "SPROUDCTL_TOKEN="))
		cl.Destroy(context.Background(), inst.ID)
		p.api = cl
		p.wait(inst.ID, "destroyed")
	}
}
