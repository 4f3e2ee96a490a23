// Package e2e drives the real sproudctl and sproudchat binaries, on the real Docker
// engine and as local processes: what billing, ops and a customer do, end to end.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault/s3test"
	"github.com/sproudstack/sproudchat/platform/testkit/apiclient"
	"github.com/sproudstack/sproudchat/platform/testkit/poll"
	"github.com/sproudstack/sproudchat/provisioning/docker"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

var (
	ctlOnce sync.Once
	ctlPath string
	ctlErr  error
)

// sproudctl returns the binary under test: $SPROUDCTL_BINARY (make test), else a build.
func sproudctl(t *testing.T) string {
	t.Helper()
	ctlOnce.Do(func() {
		if p := os.Getenv("SPROUDCTL_BINARY"); p != "" {
			ctlPath = p
			return
		}
		dir, _ := os.MkdirTemp("", "sproudctl-")
		ctlPath = filepath.Join(dir, "sproudctl")
		cmd := exec.Command("go", "build", "-o", ctlPath, "./cmd/sproudctl")
		cmd.Dir = filepath.Join(runtimetest.Root(), "controlplane")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			ctlErr = &buildErr{string(out), err}
		}
	})
	if ctlErr != nil {
		t.Fatal(ctlErr)
	}
	return ctlPath
}

type buildErr struct {
	out string
	err error
}

func (e *buildErr) Error() string { return e.err.Error() + "\n" + e.out }

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// plane is one control-plane setup: a data dir, a token, and a running serve.
type plane struct {
	t        *testing.T
	runtime  string
	dataDir  string
	apiAddr  string
	edgeAddr string
	token    string
	args     []string       // more serve flags
	env      []string       // more environment for serve
	s3       *s3test.Server // the backup target's S3 server, if on one
	cmd      *exec.Cmd
	out      *bytes.Buffer
	mu       sync.Mutex
	exited   chan struct{}
	api      *client.Client
	started  bool // a cleanup stops whichever serve runs at the end
}

func newPlane(t *testing.T, runtime string) *plane {
	t.Helper()
	if runtime == "docker" {
		runtimetest.RequireDocker(t, docker.Ping)
		runtimetest.Image(t)
	}
	p := &plane{t: t, runtime: runtime, dataDir: t.TempDir(), apiAddr: freeAddr(t), edgeAddr: freeAddr(t)}
	out, err := exec.Command(sproudctl(t), "token", "create", "--name", "e2e", "--scopes", "admin", "--data-dir", p.dataDir, "-o", "json").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	var tok client.Token
	if err := json.Unmarshal(out, &tok); err != nil || !strings.HasPrefix(tok.Token, "spt_") {
		t.Fatalf("token create printed %s", out)
	}
	p.token = tok.Token
	p.api = client.New("http://"+p.apiAddr, p.token)
	return p
}

// start runs sproudctl serve and waits for its API.
func (p *plane) start() {
	p.t.Helper()
	p.out = &bytes.Buffer{}
	p.exited = make(chan struct{})
	args := []string{"serve", "--runtime", p.runtime, "--data-dir", p.dataDir,
		"--templates", filepath.Join(runtimetest.Root(), "templates"), "--api-addr", p.apiAddr, "--edge-addr", p.edgeAddr,
		"--instance-binary", runtimetest.Binary(p.t), "--app-version", "test", "--lease-ttl", "2s"}
	p.cmd = exec.Command(sproudctl(p.t), append(args, p.args...)...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, p.env...)
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{&p.mu, p.out}, lockedWriter{&p.mu, p.out}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	if !p.started {
		// Registered once, at the first start: a restarted serve must still run when
		// the cleanups of what the test made since (destroying its instances) run.
		p.started = true
		p.t.Cleanup(func() { p.kill(syscall.SIGTERM) })
	}
	poll.Eventually(p.t, "sproudctl serve to be up", func() bool {
		select {
		case <-p.exited:
			p.t.Fatalf("serve exited:\n%s", p.output())
		default:
		}
		res, err := http.Get("http://" + p.apiAddr + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
}

func (p *plane) output() string { p.mu.Lock(); defer p.mu.Unlock(); return p.out.String() }

// kill sends sig and waits for the process to go.
func (p *plane) kill(sig syscall.Signal) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

func (p *plane) wait(id string, states ...string) client.Instance {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inst, err := p.api.WaitFor(ctx, id, func(client.Instance) {}, states...)
	if err != nil {
		p.t.Fatalf("%v\nserve output:\n%s", err, p.output())
	}
	return inst
}

// customer is a browser at the instance's public URL: every *.localhost name resolves
// to the edge router, as DNS would point it there.
type customer = apiclient.Client

func (p *plane) customer(url string) *customer { return p.customerOf(p.t, url) }

// customerOf is customer for a test other than the plane's (a subtest).
func (p *plane) customerOf(t testing.TB, url string) *customer {
	edge := p.edgeAddr
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, edge)
	}
	return apiclient.New(t, url, apiclient.Options{HTTP: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: dial}}})
}
