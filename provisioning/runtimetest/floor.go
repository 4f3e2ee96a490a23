package runtimetest

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/sproudstack/sproudchat/provisioning"
)

// FloorLabel marks the objects DockerFloor makes, so a benchmark can clean up after a crash.
const FloorLabel = "io.sproudchat.bench"

// DockerFloor is the benchmarks' baseline: it makes the same network, volume and app
// container as the Docker runtime would for s, with bare engine calls and nothing else,
// starts it, waits for /readyz, and removes it all. It returns the time of the engine
// calls and of the app's own start-up.
func DockerFloor(ctx context.Context, cli *client.Client, image string, s provisioning.Spec) (calls, startup time.Duration, err error) {
	lbl := map[string]string{FloorLabel: "floor"}
	name := "bench-floor-" + s.Slug
	defer func() {
		cli.ContainerRemove(ctx, name, container.RemoveOptions{Force: true})
		cli.VolumeRemove(ctx, name, true)
		cli.NetworkRemove(ctx, name)
	}()
	t0 := time.Now()
	if _, err := cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: lbl}); err != nil {
		return 0, 0, err
	}
	if _, err := cli.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: lbl}); err != nil {
		return 0, 0, err
	}
	var env []string
	for k, v := range s.Environment(":8080", "/data", "") {
		env = append(env, k+"="+v)
	}
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: image, Env: env, Labels: lbl, ExposedPorts: nat.PortSet{"8080/tcp": {}}},
		&container.HostConfig{NetworkMode: container.NetworkMode(name), PortBindings: nat.PortMap{"8080/tcp": {{HostIP: "127.0.0.1"}}},
			Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: name, Target: "/data"}}}, nil, nil, name)
	if err != nil {
		return 0, 0, err
	}
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		return 0, 0, err
	}
	calls = time.Since(t0)
	in, err := cli.ContainerInspect(ctx, c.ID)
	if err != nil {
		return 0, 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := provisioning.WaitReady(wctx, "127.0.0.1:"+in.NetworkSettings.Ports["8080/tcp"][0].HostPort, func() error { return nil }); err != nil {
		return 0, 0, err
	}
	return calls, time.Since(t0) - calls, nil
}
