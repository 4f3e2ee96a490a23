package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// ownedRuntime is a runtime of its own owner on the shared engine.
func ownedRuntime(t *testing.T, owner string) *Runtime {
	t.Helper()
	rt, err := newRuntime(mustClient(t), Options{Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(rt.opts.SecretsDir, owner)) }) // empty once its instances are gone
	return rt
}

func listed(t *testing.T, rt *Runtime, id string) (provisioning.Status, bool) {
	t.Helper()
	all, err := rt.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		if st.ID == id {
			return st, true
		}
	}
	return provisioning.Status{}, false
}

// TestOwnersKeepApart: two control planes on one engine. Each labels every object with
// its owner, lists only its own, and cannot remove, read or take over the other's.
func TestOwnersKeepApart(t *testing.T) {
	h := harness(t, nil)
	c := mustClient(t)
	ctx := context.Background()
	_, suffix := runtimetest.Unique("own")
	a, b := ownedRuntime(t, "a-"+suffix), ownedRuntime(t, "b-"+suffix)
	idA, slugA := runtimetest.Unique("ownera")
	idB, slugB := runtimetest.Unique("ownerb")
	specA, specB := runtimetest.Spec(h, idA, slugA), runtimetest.Spec(h, idB, slugB)
	t.Cleanup(func() { a.Destroy(context.Background(), idA); b.Destroy(context.Background(), idB) })
	if _, err := a.Apply(ctx, specA); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Apply(ctx, specB); err != nil {
		t.Fatal(err)
	}

	app, _ := c.ContainerInspect(ctx, appName(slugA))
	vol, _ := c.VolumeInspect(ctx, volumeName(slugA))
	net, _ := c.NetworkInspect(ctx, networkName(slugA), network.InspectOptions{})
	owners := map[string]string{"container": app.Config.Labels[LabelOwner], "volume": vol.Labels[LabelOwner], "network": net.Labels[LabelOwner]}
	if diff := cmp.Diff(map[string]string{"container": a.opts.Owner, "volume": a.opts.Owner, "network": a.opts.Owner}, owners); diff != "" {
		t.Errorf("owner labels (-want +got):\n%s", diff)
	}
	if _, ok := listed(t, a, idB); ok {
		t.Error("A lists B's instance")
	}
	if st, ok := listed(t, a, idA); !ok || st.Unowned {
		t.Errorf("A lists its own instance as %+v (listed: %v)", st, ok)
	}
	if _, err := a.Status(ctx, idB); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("A's status of B's instance: %v, want ErrNotFound", err)
	}
	if _, err := a.Logs(ctx, idB, 5); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("A's logs of B's instance: %v, want ErrNotFound", err)
	}
	before := leftovers(t, c, b, idB)
	if err := a.DestroyApp(ctx, idB); err != nil {
		t.Fatal(err)
	}
	if err := a.Destroy(ctx, idB); err != nil {
		t.Fatal(err)
	}
	if after := leftovers(t, c, b, idB); !slices.Equal(before, after) {
		t.Errorf("A's destroy of B's instance changed %v to %v", before, after)
	}
	taken := specB
	if _, err := a.Apply(ctx, taken); err == nil || !strings.Contains(err.Error(), "of another control plane") {
		t.Errorf("A's apply of B's instance: %v, want a refusal", err)
	}
	if st, err := b.Status(ctx, idB); err != nil || !st.Ready {
		t.Errorf("B's instance after A's attempts: %+v, %v", st, err)
	}
}

// TestUnownedObjectsAreListedAndAdopted: objects from before owner labels name no
// owner. Every runtime lists them as Unowned; the Apply of their instance adopts the
// network and volume and replaces the container with an owned one.
func TestUnownedObjectsAreListedAndAdopted(t *testing.T) {
	h := harness(t, nil)
	c := mustClient(t)
	rt := h.Runtime.(*Runtime)
	ctx := context.Background()
	id, slug := runtimetest.Unique("legacy")
	spec := runtimetest.Spec(h, id, slug)
	t.Cleanup(func() { rt.Destroy(context.Background(), id) })
	old := map[string]string{LabelInstance: id, LabelSlug: slug, LabelRole: "data"}
	if _, err := c.VolumeCreate(ctx, volume.CreateOptions{Name: volumeName(slug), Labels: old}); err != nil {
		t.Fatal(err)
	}
	other := ownedRuntime(t, "someone-else")
	for _, r := range []*Runtime{rt, other} {
		if st, ok := listed(t, r, id); !ok || !st.Unowned {
			t.Errorf("owner %s lists the unowned volume as %+v (listed: %v), want Unowned", r.opts.Owner, st, ok)
		}
	}
	cfg, host, _ := rt.containerConfig(spec)
	delete(cfg.Labels, LabelOwner)
	host.NetworkMode, host.PortBindings, host.Mounts = "none", nil, host.Mounts[:1]
	if _, err := c.ContainerCreate(ctx, cfg, host, nil, nil, appName(slug)); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if st, ok := listed(t, rt, id); !ok || st.Unowned {
		t.Errorf("after apply: %+v (listed: %v), want owned", st, ok)
	}
	app, err := c.ContainerInspect(ctx, appName(slug))
	if err != nil || app.Config.Labels[LabelOwner] != testOwner {
		t.Errorf("after apply the container's owner is %q (%v)", app.Config.Labels[LabelOwner], err)
	}
	if _, ok := listed(t, other, id); !ok {
		t.Error("another owner no longer lists the instance, whose volume still names no owner")
	}
}

// TestDestroyAppKeepsOnlyTheVolume: after DestroyApp the data volume is all that is left
// of an instance; no container, network or secret file.
func TestDestroyAppKeepsOnlyTheVolume(t *testing.T) {
	h := harness(t, nil)
	c := mustClient(t)
	rt := h.Runtime.(*Runtime)
	spec, _ := apply(t, h, "appgone")
	if err := rt.DestroyApp(context.Background(), spec.ID); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, c, rt, spec.ID); !slices.Equal(left, []string{"volume " + volumeName(spec.Slug)}) {
		t.Fatalf("left after DestroyApp: %v, want the volume only", left)
	}
	cs, _ := c.ContainerList(context.Background(), container.ListOptions{All: true, Filters: byInstance(spec.ID)})
	if len(cs) != 0 {
		t.Fatalf("containers after DestroyApp: %v", cs)
	}
}
