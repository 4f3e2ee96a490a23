package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/testkit/apiclient"
	"github.com/sproudstack/sproudchat/platform/testkit/poll"
)

// binary returns the sproudchat binary under test: $SPROUDCHAT_BINARY (make test sets
// it to the one `make build` made), else a fresh static build.
func binary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("SPROUDCHAT_BINARY"); b != "" {
		return b
	}
	out := filepath.Join(t.TempDir(), "sproudchat")
	cmd := exec.Command("go", "build", "-o", out, "../../cmd/sproudchat")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build sproudchat: %v\n%s", err, b)
	}
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a running sproudchat process with its output collected.
type proc struct {
	cmd    *exec.Cmd
	base   string
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (p *proc) output() (string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String(), p.stderr.String()
}

// start runs argv with env and waits until /readyz answers 200.
func start(t *testing.T, env []string, argv ...string) *proc {
	t.Helper()
	addr := freePort(t)
	p := &proc{base: "http://" + addr, done: make(chan error, 1)}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "SPROUDCHAT_LISTEN_ADDR=" + addr}, env...)
	p.cmd.Stdout = lockedWriter{&p.mu, &p.stdout}
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	poll.Eventually(t, "sproudchat to be ready", func() bool {
		select {
		case err := <-p.done:
			out, errOut := p.output()
			t.Fatalf("sproudchat exited before ready: %v\n%s\n%s", err, out, errOut)
		default:
		}
		res, err := http.Get(p.base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("sproudchat exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("sproudchat did not stop within 15s of SIGTERM")
	}
}

// newClient is a browser session with the instance at base.
func newClient(t *testing.T, base string) *apiclient.Client {
	return apiclient.New(t, base, apiclient.Options{})
}

// TestBinaryLifecycle runs the real binary as a runtime would: active, then restarted
// read-only over the same data (a suspension), then active again.
func TestBinaryLifecycle(t *testing.T) {
	bin := binary(t)
	dataDir := t.TempDir()
	setupToken := "e2e-setup-token-0123456789abcdef"
	password := "e2e admin password"
	env := []string{"SPROUDCHAT_DATA_DIR=" + dataDir, "SPROUDCHAT_SECRET_KEY=" + testKey, "SPROUDCHAT_SETUP_TOKEN=" + setupToken}

	p := start(t, env, bin)
	c := newClient(t, p.base)
	if code, out := c.Call("POST", "/api/v1/setup", map[string]string{"token": setupToken, "name": "Ada", "email": "ada@example.org", "password": password}); code != 201 {
		t.Fatalf("setup: %d %v", code, out)
	}
	c.Login("ada@example.org", password)
	if code, out := c.Call("POST", "/api/v1/users", map[string]string{"name": "Al", "email": "al@example.org", "role": "agent", "password": "al's password 1"}); code != 201 {
		t.Fatalf("create user: %d %v", code, out)
	}
	p.stop(t)
	stdout, stderr := p.output()
	for _, secret := range []string{password, setupToken, testKey, c.CSRFToken(), "al's password 1"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("a secret appears in the process output: %q", secret)
		}
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	lines := 0
	for sc.Scan() {
		var entry map[string]any
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if entry["msg"] == "request" && entry["request_id"] == "" {
			t.Errorf("request log without request id: %s", sc.Text())
		}
		lines++
	}
	if lines < 4 {
		t.Fatalf("only %d log lines", lines)
	}

	// Suspended: read-only until a date, over the same data.
	ro := start(t, append(env, "SPROUDCHAT_MODE=read_only", "SPROUDCHAT_READ_ONLY_UNTIL=2026-12-29T00:00:00Z"), bin)
	c = newClient(t, ro.base)
	c.Login("al@example.org", "al's password 1")
	code, users := c.Call("GET", "/api/v1/users", nil)
	if code != 200 || len(users["items"].([]any)) != 2 {
		t.Fatalf("users while read-only: %d %v", code, users)
	}
	if code, out := c.Call("PATCH", "/api/v1/me", map[string]string{"name": "Alfred"}); code != 423 {
		t.Fatalf("write while read-only: %d %v", code, out)
	}
	if code, _ := c.Call("GET", "/api/v1/me/export", nil); code != 200 {
		t.Fatalf("export while read-only: %d", code)
	}
	_, page := c.Page("/")
	if !strings.Contains(page, "read-only until 2026-12-29") {
		t.Fatalf("home page while read-only lacks the banner: %s", page)
	}
	ro.stop(t)

	// Resumed: writable again, the data intact.
	p = start(t, env, bin)
	c = newClient(t, p.base)
	c.Login("al@example.org", "al's password 1")
	if code, out := c.Call("PATCH", "/api/v1/me", map[string]string{"name": "Alfred"}); code != 200 || out["name"] != "Alfred" {
		t.Fatalf("write after resume: %d %v", code, out)
	}
	p.stop(t)
}

// TestRunScriptPrintsURLAndSetupLink runs the README's run command's script on a fresh
// data dir, follows the link it prints, and creates the first admin through the page.
func TestRunScriptPrintsURLAndSetupLink(t *testing.T) {
	bin := binary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	p := start(t, []string{"SPROUDCHAT_BINARY=" + bin, "SPROUDCHAT_DATA_DIR=" + dataDir}, "bash", "../../../scripts/run-local.sh")
	_, stderr := p.output()
	if !strings.Contains(stderr, "is running at "+p.base) {
		t.Fatalf("no URL in the output: %q", stderr)
	}
	link := regexp.MustCompile(`(http://\S+/setup\?token=\S+)`).FindString(stderr)
	if link == "" {
		t.Fatalf("no setup link in the output: %q", stderr)
	}
	if fi, err := os.Stat(filepath.Join(dataDir, ".secret-key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v", err)
	}
	c := newClient(t, p.base)
	token := strings.SplitN(link, "token=", 2)[1]
	form := url.Values{"token": {token}, "name": {"Ada"}, "email": {"ada@example.org"}, "password": {"run script password"}}
	if code := c.PostForm("/setup", form); code != http.StatusSeeOther {
		t.Fatalf("setup through the printed link: %d", code)
	}
	p.stop(t)
	// Started again, it keeps the key and says setup is done: no link any more.
	p = start(t, []string{"SPROUDCHAT_BINARY=" + bin, "SPROUDCHAT_DATA_DIR=" + dataDir}, "bash", "../../../scripts/run-local.sh")
	c = newClient(t, p.base)
	c.Login("ada@example.org", "run script password")
	if _, stderr := p.output(); strings.Contains(stderr, "setup?token") {
		t.Fatalf("a setup link after setup: %q", stderr)
	}
	p.stop(t)
}
