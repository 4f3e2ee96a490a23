package docker

import (
	"path"
	"slices"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/sproudstack/sproudchat/provisioning"
)

// nonRoot is the image's sproudchat user (scripts/build-images.sh).
const nonRoot = "65532:65532"

// containerConfig is the app container of spec s, hardened: a non-root user, a read-only
// root filesystem with a small tmpfs, no capabilities, no privilege escalation, the
// plan's memory/CPU/PID limits, bounded logs, and the port on loopback only. Its
// secrets are files from its secrets directory (an absolute host path), read-only,
// named by <NAME>_FILE: the environment, which docker inspect and /proc show, holds none.
func (r *Runtime) containerConfig(s provisioning.Spec) (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	env := s.Environment(":8080", "/data", "")
	for name := range s.Secrets {
		delete(env, name)
		env[name+"_FILE"] = path.Join(secretsTarget, name)
	}
	envList := make([]string, 0, len(env))
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	slices.Sort(envList)
	lbl := r.labels(s, "app")
	lbl[LabelSpecHash] = s.Hash()
	lbl[LabelMode] = string(s.Mode)
	cfg := &container.Config{
		Image:        s.App.Image,
		User:         nonRoot,
		Env:          envList,
		Cmd:          []string{"serve"},
		ExposedPorts: nat.PortSet{appPort: struct{}{}},
		Labels:       lbl,
		StopSignal:   "SIGTERM",
	}
	host := hardened(s)
	host.NetworkMode = container.NetworkMode(networkName(s.Slug))
	host.PortBindings = nat.PortMap{appPort: []nat.PortBinding{{HostIP: "127.0.0.1", HostPort: ""}}}
	host.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
	host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeBind, Source: r.secretsDir(s.ID), Target: secretsTarget, ReadOnly: true})
	netcfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{networkName(s.Slug): {}}}
	return cfg, host, netcfg
}

// hardened is the host config every container of spec s runs with, the app and its
// tools alike: a read-only root filesystem with a small tmpfs, no capabilities, no
// privilege escalation, the plan's memory/CPU/PID limits, bounded logs, and the
// instance's data volume at /data. The caller adds network, ports and restart policy.
func hardened(s provisioning.Spec) *container.HostConfig {
	pids := s.App.Resources.PIDs
	return &container.HostConfig{
		ReadonlyRootfs: true,
		Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=16m"},
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Mounts:         []mount.Mount{{Type: mount.TypeVolume, Source: volumeName(s.Slug), Target: "/data"}},
		LogConfig:      container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "3"}},
		Resources: container.Resources{
			Memory:     s.App.Resources.MemoryBytes,
			MemorySwap: s.App.Resources.MemoryBytes, // no swap beyond the limit
			NanoCPUs:   s.App.Resources.MilliCPUs * 1_000_000,
			PidsLimit:  &pids,
		},
	}
}
