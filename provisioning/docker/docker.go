// Package docker runs instances on a Docker Engine: per instance a bridge network, a
// named data volume and a hardened app container whose port is published on 127.0.0.1
// only, with its secrets as read-only files from a host directory (never in its
// environment). Every object carries the io.sproudchat.instance label and its owner's
// io.sproudchat.owner label: a runtime sees and removes only its owner's objects (and
// unowned ones from before owner labels, which it reports as such), so several control
// planes can share one engine. Docker SDK types stay in this package. The engine must run
// on this host: the secrets are bind-mounted.
package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sproudstack/sproudchat/provisioning"
)

// Labels on every object.
const (
	LabelInstance = "io.sproudchat.instance"
	LabelRole     = "io.sproudchat.role"
	LabelSpecHash = "io.sproudchat.spec-hash"
	LabelSlug     = "io.sproudchat.slug"
	LabelMode     = "io.sproudchat.mode"
	// LabelOwner names the control plane (Options.Owner) whose object it is.
	LabelOwner = "io.sproudchat.owner"
	// LabelToolRun names the Runtime value (one per process) that made a tool
	// container: one of another is a dead process's leftover.
	LabelToolRun = "io.sproudchat.tool-run"
)

const appPort = "8080/tcp"

// engine is the part of the Docker client this driver calls, so a test fake stays small.
type engine interface {
	NetworkInspect(ctx context.Context, id string, o network.InspectOptions) (network.Inspect, error)
	NetworkCreate(ctx context.Context, name string, o network.CreateOptions) (network.CreateResponse, error)
	NetworkList(ctx context.Context, o network.ListOptions) ([]network.Summary, error)
	NetworkRemove(ctx context.Context, id string) error
	VolumeInspect(ctx context.Context, id string) (volume.Volume, error)
	VolumeCreate(ctx context.Context, o volume.CreateOptions) (volume.Volume, error)
	VolumeList(ctx context.Context, o volume.ListOptions) (volume.ListResponse, error)
	VolumeRemove(ctx context.Context, id string, force bool) error
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	ContainerCreate(ctx context.Context, c *container.Config, h *container.HostConfig, n *network.NetworkingConfig, p *ocispec.Platform, name string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, id string, o container.StartOptions) error
	ContainerRemove(ctx context.Context, id string, o container.RemoveOptions) error
	ContainerList(ctx context.Context, o container.ListOptions) ([]container.Summary, error)
	ContainerLogs(ctx context.Context, id string, o container.LogsOptions) (io.ReadCloser, error)
	ContainerStop(ctx context.Context, id string, o container.StopOptions) error
	ContainerAttach(ctx context.Context, id string, o container.AttachOptions) (types.HijackedResponse, error)
	ContainerWait(ctx context.Context, id string, c container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
}

// Options configure the runtime.
type Options struct {
	// Owner names who owns the instances of this runtime (required): a control plane's
	// stable id, the same for its replicas. 1-63 lower-case letters, digits, hyphens.
	Owner string
	// ReadyTimeout bounds how long Apply waits for /readyz (default 60s).
	ReadyTimeout time.Duration
	// AfterStep, when set, is called after each step of Apply ("network", "volume",
	// "secrets", "container", "started"): tests cancel the context there to simulate a
	// crash.
	AfterStep func(step string)
	Logger    *slog.Logger
	// SubnetPool and SubnetBits say where instance networks get their subnets
	// (default DefaultSubnetPool in /DefaultSubnetBits pieces). The pool must not
	// overlap the host's networks.
	SubnetPool string
	SubnetBits int
	// SecretsDir holds, on the engine's host, <owner>/<instance id>/ with the instance's
	// secret files, bind-mounted read-only into the app container (default:
	// DefaultSecretsDir of <temp dir>/sproudchat-secrets-<uid>). It is made 0700; it
	// must not be shared with another user.
	SecretsDir string
}

// Runtime is the Docker driver of provisioning.Runtime.
type Runtime struct {
	engine  engine
	opts    Options
	log     *slog.Logger
	subnets subnets
	run     string // this value's LabelToolRun
}

var (
	_ provisioning.Runtime = (*Runtime)(nil)
	_ provisioning.Tools   = (*Runtime)(nil)
)

// New connects to the engine named by the environment (DOCKER_HOST, else the local
// socket), negotiating the API version so older engines work.
func New(o Options) (*Runtime, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return newRuntime(c, o)
}

func newRuntime(e engine, o Options) (*Runtime, error) {
	if !ownerPattern.MatchString(o.Owner) {
		return nil, fmt.Errorf("docker runtime: owner %q: must be 1-63 lower-case letters, digits or hyphens", o.Owner)
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.AfterStep == nil {
		o.AfterStep = func(string) {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SubnetPool == "" {
		o.SubnetPool = DefaultSubnetPool
	}
	if o.SubnetBits == 0 {
		o.SubnetBits = DefaultSubnetBits
	}
	if o.SecretsDir == "" {
		o.SecretsDir = DefaultSecretsDir(filepath.Join(os.TempDir(), fmt.Sprintf("sproudchat-secrets-%d", os.Geteuid())))
	}
	// The engine resolves a bind mount's source as given: it must be absolute.
	dir, err := filepath.Abs(o.SecretsDir)
	if err != nil {
		return nil, fmt.Errorf("secrets dir: %w", err)
	}
	o.SecretsDir = dir
	sn, err := newSubnets(o.SubnetPool, o.SubnetBits)
	if err != nil {
		return nil, err
	}
	run := make([]byte, 6)
	rand.Read(run)
	return &Runtime{engine: e, opts: o, log: o.Logger, subnets: sn, run: hex.EncodeToString(run)}, nil
}

// Close lets go of the engine's client and its connections; the instances keep running.
func (r *Runtime) Close() error {
	if c, ok := r.engine.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Ping tells whether an engine answers.
func Ping(ctx context.Context) error {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Ping(ctx)
	return err
}

// Names of an instance's objects: deterministic, so every step can inspect before it
// creates.
func appName(slug string) string     { return "sproudchat-" + slug + "-app" }
func networkName(slug string) string { return "sproudchat-" + slug + "-net" }
func volumeName(slug string) string  { return "sproudchat-" + slug + "-data" }

var ownerPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func (r *Runtime) labels(s provisioning.Spec, role string) map[string]string {
	return map[string]string{LabelInstance: s.ID, LabelRole: role, LabelSlug: s.Slug, LabelOwner: r.opts.Owner}
}

// mine tells whether an object with these labels is this runtime's to see and remove:
// its owner's, or unowned (made before owner labels, when one control plane per engine
// was the rule).
func (r *Runtime) mine(l map[string]string) bool {
	return l[LabelOwner] == "" || l[LabelOwner] == r.opts.Owner
}

func byInstance(id string) filters.Args {
	if id == "" {
		return filters.NewArgs(filters.Arg("label", LabelInstance))
	}
	return filters.NewArgs(filters.Arg("label", LabelInstance+"="+id))
}

// appOf selects the app container of instance id (tool containers share its instance
// label, not its role).
func appOf(id string) filters.Args {
	return filters.NewArgs(filters.Arg("label", LabelInstance+"="+id), filters.Arg("label", LabelRole+"=app"))
}

// taken tells whether an object of the instance's deterministic name belongs to another
// instance (say, leftovers of a destroyed one with the same slug) or to another control
// plane. Apply refuses rather than adopt its data.
func (r *Runtime) taken(kind, name string, l map[string]string, s provisioning.Spec) error {
	if l[LabelInstance] == s.ID && r.mine(l) {
		return nil
	}
	whose := ""
	if !r.mine(l) {
		whose = " of another control plane"
	}
	return fmt.Errorf("%w: %s %s belongs to instance %q%s", provisioning.ErrInvalid, kind, name, l[LabelInstance], whose)
}

// Apply creates or converges the instance. Each step inspects before it creates, so a
// crash anywhere is repaired by the next call.
func (r *Runtime) Apply(ctx context.Context, s provisioning.Spec) (provisioning.Status, error) {
	if err := s.Validate(); err != nil {
		return provisioning.Status{}, err
	}
	if err := r.ensureNetwork(ctx, s); err != nil {
		return provisioning.Status{}, err
	}
	r.opts.AfterStep("network")
	if err := r.ensureVolume(ctx, s); err != nil {
		return provisioning.Status{}, err
	}
	r.opts.AfterStep("volume")
	if err := r.writeSecrets(s); err != nil {
		return provisioning.Status{}, err
	}
	r.opts.AfterStep("secrets")
	if err := ctx.Err(); err != nil {
		return provisioning.Status{}, err
	}
	id, err := r.ensureContainer(ctx, s)
	if err != nil {
		return provisioning.Status{}, err
	}
	r.opts.AfterStep("started")
	return r.waitReady(ctx, s, id)
}

func (r *Runtime) ensureNetwork(ctx context.Context, s provisioning.Spec) error {
	name := networkName(s.Slug)
	n, err := r.engine.NetworkInspect(ctx, name, network.InspectOptions{})
	if err == nil {
		return r.taken("network", name, n.Labels, s)
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect network %s: %w", name, err)
	}
	return r.createNetwork(ctx, name, r.labels(s, "network"), s.ID)
}

func (r *Runtime) ensureVolume(ctx context.Context, s provisioning.Spec) error {
	name := volumeName(s.Slug)
	v, err := r.engine.VolumeInspect(ctx, name)
	if err == nil {
		return r.taken("volume", name, v.Labels, s)
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect volume %s: %w", name, err)
	}
	if _, err := r.engine.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: r.labels(s, "data")}); err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	return nil
}

// ensureContainer keeps a current container and starts it; any other container of the
// instance is replaced (the volume keeps the data).
func (r *Runtime) ensureContainer(ctx context.Context, s provisioning.Spec) (string, error) {
	name := appName(s.Slug)
	c, err := r.engine.ContainerInspect(ctx, name)
	if err == nil {
		if err := r.taken("container", name, c.Config.Labels, s); err != nil {
			return "", err
		}
	}
	switch {
	case err == nil && r.current(c, s):
		if !c.State.Running {
			if err := r.engine.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
				return "", fmt.Errorf("start container %s: %w", name, err)
			}
		}
		return c.ID, nil
	case err == nil:
		r.log.InfoContext(ctx, "app container out of date: recreating it", "instance_id", s.ID, "container_id", c.ID)
		if err := r.engine.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return "", fmt.Errorf("remove container %s: %w", name, err)
		}
	case !cerrdefs.IsNotFound(err):
		return "", fmt.Errorf("inspect container %s: %w", name, err)
	}
	cfg, host, netcfg := r.containerConfig(s)
	created, err := r.engine.ContainerCreate(ctx, cfg, host, netcfg, nil, name)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	r.opts.AfterStep("container")
	if err := r.engine.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return "", fmt.Errorf("start container %s: %w", name, err)
	}
	return created.ID, nil
}

func (r *Runtime) waitReady(ctx context.Context, s provisioning.Spec, id string) (provisioning.Status, error) {
	wctx, cancel := context.WithTimeout(ctx, r.opts.ReadyTimeout)
	defer cancel()
	c, err := r.engine.ContainerInspect(wctx, id)
	if err != nil {
		return provisioning.Status{}, fmt.Errorf("inspect container %s: %w", appName(s.Slug), err)
	}
	upstream := hostPort(c)
	if upstream == "" {
		return provisioning.Status{}, fmt.Errorf("container %s publishes no port", appName(s.Slug))
	}
	alive := func() error {
		c, err := r.engine.ContainerInspect(wctx, id)
		if err == nil && !c.State.Running && c.State.Status != "created" {
			return fmt.Errorf("container %s is %s (exit code %d)", appName(s.Slug), c.State.Status, c.State.ExitCode)
		}
		return nil
	}
	if err := provisioning.WaitReady(wctx, upstream, alive); err != nil {
		if ctx.Err() != nil {
			return provisioning.Status{}, ctx.Err()
		}
		logs, _ := r.Logs(context.WithoutCancel(ctx), s.ID, 20)
		return provisioning.Status{}, fmt.Errorf("%w: container %s: %v; last log lines:\n%s", provisioning.ErrNotReady, appName(s.Slug), err, logs)
	}
	return r.Status(ctx, s.ID)
}

// current tells whether app container c is what Apply would create for s now: the same
// spec hash and owner, its secrets read from the instance's secrets directory. One made
// before owner labels names no owner; one made before secrets were files has them in
// its environment and no such mount.
func (r *Runtime) current(c container.InspectResponse, s provisioning.Spec) bool {
	if c.Config.Labels[LabelSpecHash] != s.Hash() || c.Config.Labels[LabelOwner] != r.opts.Owner {
		return false
	}
	for _, m := range c.Mounts {
		if m.Destination == secretsTarget && m.Source == r.secretsDir(s.ID) && !m.RW {
			return true
		}
	}
	return false
}

func hostPort(c container.InspectResponse) string {
	if c.NetworkSettings == nil {
		return ""
	}
	for _, b := range c.NetworkSettings.Ports[appPort] {
		if b.HostPort != "" {
			return "127.0.0.1:" + b.HostPort
		}
	}
	return ""
}

func isConflict(err error) bool {
	return err != nil && (cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "already exists"))
}

// Destroy removes the instance's containers, volumes and networks, found by label, and
// its secrets directory. Another owner's objects are left alone.
func (r *Runtime) Destroy(ctx context.Context, id string) error {
	return r.destroy(ctx, id, true)
}

// DestroyApp removes the instance's containers, networks and secrets, and keeps its
// volumes.
func (r *Runtime) DestroyApp(ctx context.Context, id string) error {
	return r.destroy(ctx, id, false)
}

func (r *Runtime) destroy(ctx context.Context, id string, data bool) error {
	if err := validID(id); err != nil {
		return err
	}
	cs, err := r.engine.ContainerList(ctx, container.ListOptions{All: true, Filters: byInstance(id)})
	if err != nil {
		return fmt.Errorf("list containers of %s: %w", id, err)
	}
	for _, c := range cs {
		if !r.mine(c.Labels) {
			continue
		}
		if err := r.engine.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("remove container %s: %w", c.ID, err)
		}
	}
	if data {
		vs, err := r.engine.VolumeList(ctx, volume.ListOptions{Filters: byInstance(id)})
		if err != nil {
			return fmt.Errorf("list volumes of %s: %w", id, err)
		}
		for _, v := range vs.Volumes {
			if !r.mine(v.Labels) {
				continue
			}
			if err := r.engine.VolumeRemove(ctx, v.Name, true); err != nil && !cerrdefs.IsNotFound(err) {
				return fmt.Errorf("remove volume %s: %w", v.Name, err)
			}
		}
	}
	ns, err := r.engine.NetworkList(ctx, network.ListOptions{Filters: byInstance(id)})
	if err != nil {
		return fmt.Errorf("list networks of %s: %w", id, err)
	}
	for _, n := range ns {
		if !r.mine(n.Labels) {
			continue
		}
		if err := r.engine.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("remove network %s: %w", n.Name, err)
		}
	}
	return r.removeSecrets(id)
}

// Status reports one instance from its labelled objects. Returns ErrNotFound when none
// exists.
func (r *Runtime) Status(ctx context.Context, id string) (provisioning.Status, error) {
	all, err := r.collect(ctx, id)
	if err != nil {
		return provisioning.Status{}, err
	}
	st, ok := all[id]
	if !ok {
		return provisioning.Status{}, fmt.Errorf("%w: %s", provisioning.ErrNotFound, id)
	}
	if st.Upstream != "" && st.Phase == provisioning.PhaseRunning {
		st.Ready = provisioning.Probe(ctx, st.Upstream)
	}
	return *st, nil
}

// List reports every instance with objects of this owner in the engine, orphans
// included, and those whose objects name no owner (Unowned).
func (r *Runtime) List(ctx context.Context) ([]provisioning.Status, error) {
	all, err := r.collect(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]provisioning.Status, 0, len(all))
	for _, st := range all {
		out = append(out, *st)
	}
	return out, nil
}

// collect groups this owner's and unowned labelled objects by instance; id "" means all
// instances. An instance none of whose objects names this owner is Unowned.
func (r *Runtime) collect(ctx context.Context, id string) (map[string]*provisioning.Status, error) {
	all := map[string]*provisioning.Status{}
	get := func(labels map[string]string) *provisioning.Status {
		iid := labels[LabelInstance]
		st, ok := all[iid]
		if !ok {
			st = &provisioning.Status{ID: iid, Slug: labels[LabelSlug], Phase: provisioning.PhasePartial, Unowned: true}
			all[iid] = st
		}
		if labels[LabelOwner] == r.opts.Owner {
			st.Unowned = false
		}
		return st
	}
	cs, err := r.engine.ContainerList(ctx, container.ListOptions{All: true, Filters: byInstance(id)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs {
		if !r.mine(c.Labels) {
			continue
		}
		st := get(c.Labels)
		st.Components = append(st.Components, provisioning.Component{Kind: c.Labels[LabelRole], Name: strings.TrimPrefix(firstName(c.Names), "/"), State: string(c.State)})
		if c.Labels[LabelRole] != "app" {
			continue
		}
		st.SpecHash, st.Mode = c.Labels[LabelSpecHash], provisioning.Mode(c.Labels[LabelMode])
		switch c.State {
		case container.StateRunning:
			st.Phase = provisioning.PhaseRunning
		case container.StateRestarting:
			st.Phase, st.LastError = provisioning.PhaseFailed, c.Status
		case container.StateCreated:
			st.Phase = provisioning.PhaseStarting
		default:
			st.Phase, st.LastError = provisioning.PhaseStopped, c.Status
		}
		for _, p := range c.Ports {
			if p.PrivatePort == 8080 && p.PublicPort != 0 {
				st.Upstream = fmt.Sprintf("127.0.0.1:%d", p.PublicPort)
			}
		}
	}
	vs, err := r.engine.VolumeList(ctx, volume.ListOptions{Filters: byInstance(id)})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range vs.Volumes {
		if r.mine(v.Labels) {
			get(v.Labels).Components = append(get(v.Labels).Components, provisioning.Component{Kind: "volume", Name: v.Name, State: "present"})
		}
	}
	ns, err := r.engine.NetworkList(ctx, network.ListOptions{Filters: byInstance(id)})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range ns {
		if r.mine(n.Labels) {
			get(n.Labels).Components = append(get(n.Labels).Components, provisioning.Component{Kind: "network", Name: n.Name, State: "present"})
		}
	}
	return all, nil
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// Logs returns the tail of the app container's output. Returns ErrNotFound when the
// instance has no app container.
func (r *Runtime) Logs(ctx context.Context, id string, lines int) (string, error) {
	cs, err := r.engine.ContainerList(ctx, container.ListOptions{All: true, Filters: appOf(id)})
	if err != nil {
		return "", fmt.Errorf("list containers of %s: %w", id, err)
	}
	cs = slices.DeleteFunc(cs, func(c container.Summary) bool { return !r.mine(c.Labels) })
	if len(cs) == 0 {
		return "", fmt.Errorf("%w: %s", provisioning.ErrNotFound, id)
	}
	rc, err := r.engine.ContainerLogs(ctx, cs[0].ID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(lines)})
	if err != nil {
		return "", fmt.Errorf("logs of %s: %w", cs[0].ID, err)
	}
	defer rc.Close()
	return demux(rc)
}

// demux turns Docker's multiplexed stdout/stderr stream into text.
func demux(r io.Reader) (string, error) {
	var out strings.Builder
	if _, err := stdcopy.StdCopy(&out, &out, r); err != nil {
		return out.String(), fmt.Errorf("read logs: %w", err)
	}
	return out.String(), nil
}
