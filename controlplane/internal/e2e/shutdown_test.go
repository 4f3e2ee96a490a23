package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cpclient "github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/platform/testkit/poll"
)

// shutdownTimeout is serve's DefaultShutdownTimeout: the binary must be gone within it
// (and a moment to exit).
const shutdownTimeout = 20*time.Second + 5*time.Second

// TestSIGTERMStopsEveryPartInOrder stops sproudctl serve with SIGTERM while an instance
// is being provisioned on the process runtime and a webhook delivery waits on a slow
// receiver. serve must exit 0 within its shutdown timeout, after the servers drained,
// every worker stopped and the runtime was closed, with the database closed last and
// no error logged on the way (a worker writing to a closed database logs one).
func TestSIGTERMStopsEveryPartInOrder(t *testing.T) {
	p := newPlane(t, "process")
	// An instance binary that never gets ready: the reconciler waits on it, mid-work,
	// until told to stop. It writes its pid so the test can end it.
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	slow := filepath.Join(dir, "sproudchat")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\necho $$ > "+pidFile+"\nexec sleep 300\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	p.args = []string{"--instance-binary", slow}

	// A receiver that holds every delivery until its request is cancelled.
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	cancelled := make(chan struct{}, 1)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then the server watches the connection, and r's context ends with it
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-release:
		}
	}))
	t.Cleanup(rcv.Close)
	t.Cleanup(func() { close(release) })

	p.start()
	ctx := context.Background()
	if _, err := p.api.AddWebhook(ctx, cpclient.CreateWebhook{URL: rcv.URL}); err != nil {
		t.Fatal(err)
	}
	inst, err := p.api.CreateInstance(ctx, cpclient.CreateInstance{CustomerID: "cus_term", Slug: uniqueSlug("term"), Plan: "starter",
		AdminEmail: "owner@example.org"}, "")
	if err != nil {
		t.Fatal(err)
	}
	poll.Eventually(t, "the runtime to start the instance", func() bool { _, err := os.Stat(pidFile); return err == nil })
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatalf("no webhook delivery arrived:\n%s", p.output())
	}
	if got, err := p.api.Instance(ctx, inst.ID); err != nil || got.State != "provisioning" {
		t.Fatalf("before SIGTERM: %+v, %v; want it provisioning", got, err)
	}

	sent := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(shutdownTimeout):
		t.Fatalf("serve still running %s after SIGTERM:\n%s", shutdownTimeout, p.output())
	}
	took := time.Since(sent)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM:\n%s", code, p.output())
	}
	t.Logf("serve exited %s after SIGTERM", took.Round(time.Millisecond))
	select {
	case <-cancelled: // the receiver sees the connection go a moment later
	case <-time.After(10 * time.Second):
		t.Errorf("the delivery under way was not cut short by the shutdown")
	}
	checkShutdownLog(t, p.output())
}

// logLine is what checkShutdownLog reads of serve's JSON log lines.
type logLine struct {
	Level  string `json:"level"`
	Msg    string `json:"msg"`
	Server string `json:"server"`
	Worker string `json:"worker"`
	Error  string `json:"error"`
}

// checkShutdownLog checks the order of the shutdown in serve's log: every server
// stopped before any worker stopped, every worker stopped before the runtime closed,
// the database closed last, and nothing went wrong after the shutdown began.
func checkShutdownLog(t *testing.T, out string) {
	t.Helper()
	var steps []string
	begun := false
	for _, raw := range strings.Split(out, "\n") {
		var l logLine
		if json.Unmarshal([]byte(raw), &l) != nil || l.Msg == "" {
			continue
		}
		if l.Msg == "shutting down" {
			begun = true
		}
		if !begun {
			continue
		}
		if l.Level == "ERROR" {
			t.Errorf("error during shutdown: %s", raw)
		}
		switch l.Msg {
		case "server stopped":
			steps = append(steps, "server "+l.Server)
		case "worker stopped":
			steps = append(steps, "worker "+l.Worker)
		case "runtime closed", "database closed":
			steps = append(steps, l.Msg)
		}
	}
	if !begun {
		t.Fatalf("no shutdown in the log:\n%s", out)
	}
	want := []string{"server api", "server edge", "worker backups", "worker edge-refresh", "worker jobs", "worker reconciler", "worker webhooks",
		"runtime closed", "database closed"}
	// The workers stop concurrently: their order among themselves is free.
	got := slices.Clone(steps)
	if i, j := slices.Index(got, "server edge"), slices.Index(got, "runtime closed"); i >= 0 && j > i {
		slices.Sort(got[i+1 : j])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("shutdown steps in the log:\n  %s\nwant:\n  %s\nlog:\n%s", strings.Join(steps, "\n  "), strings.Join(want, "\n  "), out)
	}
}
