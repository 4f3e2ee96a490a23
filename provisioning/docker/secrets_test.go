package docker

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/google/go-cmp/cmp"
)

// TestSecretsAreReadOnlyFiles reads the app container back from the engine: its secrets
// come as <NAME>_FILE paths into a read-only bind mount of an absolute host directory,
// whose files only the app's user reads; no secret is in its environment.
func TestSecretsAreReadOnlyFiles(t *testing.T) {
	h := harness(t, nil)
	c := mustClient(t)
	rt := h.Runtime.(*Runtime)
	spec, _ := apply(t, h, "secretfiles")
	in, err := c.ContainerInspect(context.Background(), appName(spec.Slug))
	if err != nil {
		t.Fatal(err)
	}
	dir := rt.secretsDir(spec.ID)
	for name := range spec.Secrets {
		if want := name + "_FILE=" + secretsTarget + "/" + name; !slices.Contains(in.Config.Env, want) {
			t.Errorf("env %v lacks %s", in.Config.Env, want)
		}
		for _, kv := range in.Config.Env {
			if strings.HasPrefix(kv, name+"=") {
				t.Errorf("the secret %s is in the environment", name)
			}
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("secret file %s: %v", name, err)
		}
		if os.Geteuid() == 0 && (fi.Mode().Perm() != 0o400 || fi.Sys().(*syscall.Stat_t).Uid != appUID) {
			t.Errorf("secret file %s: %v, uid %d; want 0400 of uid %d", name, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid, appUID)
		}
	}
	var bind *container.MountPoint
	for i, m := range in.Mounts {
		if m.Destination == secretsTarget {
			bind = &in.Mounts[i]
		}
	}
	if bind == nil {
		t.Fatalf("no mount at %s in %+v", secretsTarget, in.Mounts)
	}
	want := container.MountPoint{Type: mount.TypeBind, Source: dir, Destination: secretsTarget, RW: false}
	got := container.MountPoint{Type: bind.Type, Source: bind.Source, Destination: bind.Destination, RW: bind.RW}
	if diff := cmp.Diff(want, got); diff != "" || !filepath.IsAbs(bind.Source) {
		t.Fatalf("secrets mount (-want +got), want a read-only bind of an absolute path:\n%s", diff)
	}
	for _, p := range []string{rt.opts.SecretsDir, filepath.Dir(dir)} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("secrets parent dir %s: %v, %v; want 0700", p, fi, err)
		}
	}
	own, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 && (own.Mode().Perm() != 0o500 || own.Sys().(*syscall.Stat_t).Uid != appUID) {
		t.Errorf("instance secrets dir: %v of uid %d; want 0500 of uid %d", own.Mode(), own.Sys().(*syscall.Stat_t).Uid, appUID)
	}
}

// TestLostSecretsAreRewritten: a reboot empties a tmpfs, so a stopped app cannot start
// again; the next Apply writes the files again and starts it. A secret dropped from the
// spec leaves no file behind.
func TestLostSecretsAreRewritten(t *testing.T) {
	h := harness(t, nil)
	c := mustClient(t)
	rt := h.Runtime.(*Runtime)
	ctx := context.Background()
	spec, _ := apply(t, h, "lostsecrets")
	dir := rt.secretsDir(spec.ID)
	if err := c.ContainerStop(ctx, appName(spec.Slug), container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := c.ContainerStart(ctx, appName(spec.Slug), container.StartOptions{}); err == nil {
		t.Log("the engine started the app without its secrets directory; Apply must still restore it")
	}
	st, err := h.Runtime.Apply(ctx, spec)
	if err != nil || !st.Ready {
		t.Fatalf("apply after the secrets were lost: %+v, %v", st, err)
	}
	for name, value := range spec.Secrets {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != value {
			t.Errorf("secret %s after apply: %q, %v", name, b, err)
		}
	}

	spec.Secrets["SPROUDCHAT_SMTP_URL"] = "smtp://relay:relay-password@127.0.0.1:2525"
	if _, err := h.Runtime.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "SPROUDCHAT_SMTP_URL")); err != nil {
		t.Fatalf("added secret: %v", err)
	}
	delete(spec.Secrets, "SPROUDCHAT_SMTP_URL")
	if _, err := h.Runtime.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"SPROUDCHAT_SECRET_KEY", "SPROUDCHAT_SETUP_TOKEN"}; !slices.Equal(names, want) {
		t.Errorf("secrets dir holds %v, want %v", names, want)
	}
}

// TestContainerWithSecretsInItsEnvironmentIsReplaced: an app container made before
// secrets were files (same spec hash, secrets in its environment) does not survive the
// next Apply.
func TestContainerWithSecretsInItsEnvironmentIsReplaced(t *testing.T) {
	h := harness(t, nil)
	c := mustClient(t)
	rt := h.Runtime.(*Runtime)
	ctx := context.Background()
	spec, _ := apply(t, h, "oldenv")
	if err := c.ContainerRemove(ctx, appName(spec.Slug), container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	cfg, host, netcfg := rt.containerConfig(spec)
	cfg.Env = slices.DeleteFunc(cfg.Env, func(kv string) bool { return strings.Contains(strings.SplitN(kv, "=", 2)[0], "_FILE") })
	for name, value := range spec.Secrets {
		cfg.Env = append(cfg.Env, name+"="+value)
	}
	host.Mounts = host.Mounts[:1]
	old, err := c.ContainerCreate(ctx, cfg, host, netcfg, nil, appName(spec.Slug))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ContainerStart(ctx, old.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Runtime.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	in, err := c.ContainerInspect(ctx, appName(spec.Slug))
	if err != nil {
		t.Fatal(err)
	}
	if in.ID == old.ID {
		t.Fatal("the container with secrets in its environment was kept")
	}
	for _, kv := range in.Config.Env {
		for name := range spec.Secrets {
			if strings.HasPrefix(kv, name+"=") {
				t.Errorf("%s is still in the environment", name)
			}
		}
	}
}
