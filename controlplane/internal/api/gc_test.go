package api_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	dockertypes "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	dockerclient "github.com/docker/docker/client"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/control"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/docker"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// dockerPlane is one control plane's API over its own store and a Docker runtime of its
// own owner, on the engine every plane shares.
type dockerPlane struct {
	*harness
	rt    *docker.Runtime
	clock *clock.Fake
}

func newDockerPlane(t *testing.T, owner string) *dockerPlane {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	rt, err := docker.New(docker.Options{Owner: owner, SecretsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	h := serveAPI(t, storetest.MustOpen(t, store.SQLite), rt, clk)
	h.addToken("admin", "admin")
	return &dockerPlane{harness: h, rt: rt, clock: clk}
}

// gc calls the gc route and returns the orphans it reports by instance id.
func (p *dockerPlane) gc(method, body string) map[string]client.Orphan {
	p.t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	r := p.call("admin", method, "/v1/gc", ct, []byte(body), nil)
	var out client.OrphanList
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 {
		p.t.Fatalf("%s /v1/gc %s: %d %s", method, body, r.status, r.body)
	}
	m := map[string]client.Orphan{}
	for _, o := range out.Items {
		m[o.InstanceID] = o
	}
	return m
}

// objects lists, straight from the engine, what carries the instance's label.
func objects(t *testing.T, c *dockerclient.Client, id string) []string {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", docker.LabelInstance+"="+id))
	var out []string
	cs, err := c.ContainerList(ctx, dockertypes.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range cs {
		out = append(out, "container "+x.Names[0])
	}
	vs, err := c.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range vs.Volumes {
		out = append(out, "volume "+x.Name)
	}
	ns, err := c.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ns {
		out = append(out, "network "+x.Name)
	}
	slices.Sort(out)
	return out
}

// TestGCKeepsToItsOwnObjects: two control planes share one engine, each with an
// instance its store does not know, and there is a volume from before owner labels. gc
// of one never touches the other's container, network or volume, nor the unowned
// volume (it reports that); its own orphan's app goes at once, its volume only when
// asked for and the grace period has passed.
func TestGCKeepsToItsOwnObjects(t *testing.T) {
	runtimetest.RequireDocker(t, docker.Ping)
	image := runtimetest.Image(t)
	c, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	_, suffix := runtimetest.Unique("gc")
	a, b := newDockerPlane(t, "a-"+suffix), newDockerPlane(t, "b-"+suffix)
	orphan := func(p *dockerPlane, prefix string) string {
		id, slug := runtimetest.Unique(prefix)
		spec := runtimetest.Spec(runtimetest.Harness{Image: image}, id, slug)
		t.Cleanup(func() { p.rt.Destroy(context.Background(), id) })
		if _, err := p.rt.Apply(ctx, spec); err != nil {
			t.Fatal(err)
		}
		return id
	}
	idA, idB := orphan(a, "gca"), orphan(b, "gcb")
	legacy, legacySlug := runtimetest.Unique("gclegacy")
	if _, err := c.VolumeCreate(ctx, volume.CreateOptions{Name: "sproudchat-" + legacySlug + "-data",
		Labels: map[string]string{docker.LabelInstance: legacy, docker.LabelSlug: legacySlug, docker.LabelRole: "data"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.VolumeRemove(context.Background(), "sproudchat-"+legacySlug+"-data", true) })
	objsB, objsLegacy := objects(t, c, idB), objects(t, c, legacy)
	volumeA := []string{"volume sproudchat-" + idA + "-data"}
	othersIntact := func(when string) {
		t.Helper()
		if got := objects(t, c, idB); !slices.Equal(got, objsB) {
			t.Fatalf("%s: the other control plane's instance went from %v to %v", when, objsB, got)
		}
		if got := objects(t, c, legacy); !slices.Equal(got, objsLegacy) {
			t.Fatalf("%s: the unowned volume went from %v to %v", when, objsLegacy, got)
		}
	}

	listed := a.gc("GET", "")
	if _, ok := listed[idB]; ok {
		t.Fatalf("A's gc lists B's instance: %+v", listed[idB])
	}
	if o := listed[idA]; o.Reason == "" || o.Unowned || o.Removed != "" {
		t.Fatalf("A's gc lists its orphan as %+v", o)
	}
	if o := listed[legacy]; !o.Unowned {
		t.Fatalf("A's gc lists the unowned volume as %+v, want unowned", o)
	}

	grace := a.clock.Now().Add(control.DefaultOrphanDataGrace)
	got := a.gc("POST", "")
	if o := got[idA]; o.Removed != client.RemovedApp || o.DataRemovableAt == nil || !o.DataRemovableAt.Equal(grace) {
		t.Fatalf("first gc: %+v; want its app removed, its data removable from %s", o, grace)
	}
	if o := got[legacy]; !o.Unowned || o.Removed != "" {
		t.Fatalf("first gc reports the unowned volume as %+v", o)
	}
	if left := objects(t, c, idA); !slices.Equal(left, volumeA) {
		t.Fatalf("after the first gc: %v, want the volume only", left)
	}
	othersIntact("first gc")

	a.gc("POST", `{"volumes":true}`)
	if left := objects(t, c, idA); !slices.Equal(left, volumeA) {
		t.Fatalf("gc with volumes inside the grace period: %v, want the volume kept", left)
	}
	a.clock.Advance(control.DefaultOrphanDataGrace)
	a.gc("POST", "")
	if left := objects(t, c, idA); !slices.Equal(left, volumeA) {
		t.Fatalf("gc without volumes after the grace period: %v, want the volume kept", left)
	}
	othersIntact("gc without volumes")

	got = a.gc("POST", `{"volumes":true}`)
	if o := got[idA]; o.Removed != client.RemovedAll {
		t.Fatalf("gc with volumes after the grace period: %+v", o)
	}
	if left := objects(t, c, idA); len(left) != 0 {
		t.Fatalf("after gc with volumes: %v", left)
	}
	othersIntact("gc with volumes")
	if st, err := b.rt.Status(ctx, idB); err != nil || st.Phase != provisioning.PhaseRunning {
		t.Fatalf("B's instance after A's gc: %+v, %v", st, err)
	}
	got = a.gc("GET", "")
	if _, ok := got[idA]; ok || !got[legacy].Unowned {
		t.Fatalf("A's orphans at the end: %+v, want the unowned volume and not its own", got)
	}
}
