package serve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// startServe runs the whole control plane (process runtime, SQLite, no instances)
// with the given connection limits, and returns its API and edge addresses.
func startServe(t *testing.T, c Conns) (api, edge string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	cfg := Config{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", BaseDomain: "localhost", PublicScheme: "http", DataDir: dir,
		Runtime: "process", Templates: filepath.Join(runtimetest.Root(), "templates"), InstanceBinary: filepath.Join(dir, "sproudchat"),
		AppVersion: "test", Version: "test"}
	go func() {
		done <- Run(ctx, cfg, Options{Log: io.Discard, Conns: c, Ready: func(a, e string) { ready <- [2]string{a, e} }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case addrs := <-ready:
		return addrs[0], addrs[1]
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve not ready within 30 s")
	}
	return "", ""
}

// dialFrom connects to addr from src, one of 127.0.0.0/8: each stands for another client.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ask sends one keep-alive request on c: GET path with Host host. It returns the
// status, or "closed" when the server closed the connection, or "hung".
func ask(c net.Conn, host, path string) string {
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	switch {
	case err == nil:
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.Status[:3]
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "hung"
	}
	return "closed"
}

// closedWithin reports whether the server closes c (which sends nothing more) within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestIdleConnectionsAreClosed: after one request, a keep-alive connection to the API
// or to the edge is closed once the idle timeout has passed. (The attack review's
// connection, after a 404 from the edge, stayed open for good.)
func TestIdleConnectionsAreClosed(t *testing.T) {
	api, edge := startServe(t, Conns{IdleTimeout: 100 * time.Millisecond})
	for _, tc := range []struct{ name, addr, host, path, want string }{
		{"api", api, "cp.test", "/healthz", "200"},
		{"edge", edge, "nosuch.localhost", "/x", "404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialFrom(t, "127.0.0.1", tc.addr)
			if got := ask(c, tc.host, tc.path); got != tc.want {
				t.Fatalf("GET %s: %s, want %s", tc.path, got, tc.want)
			}
			if !closedWithin(c, 10*time.Second) {
				t.Fatal("an idle connection was still open 10 s after the 100 ms idle timeout")
			}
		})
	}
}

// TestAFullEdgeLeavesTheAPIServing: each listener holds at most Conns.PerPeer
// connections of one address and its own number in all; past either, a new
// connection is closed at once. A full edge takes nothing from the API.
func TestAFullEdgeLeavesTheAPIServing(t *testing.T) {
	api, edge := startServe(t, Conns{PerPeer: 2, Edge: 3, API: 3})
	steps := []struct {
		name, addr, src, want string
	}{
		{"edge 1", edge, "127.0.0.1", "404"},
		{"edge 2", edge, "127.0.0.1", "404"},
		{"edge: a third from one address", edge, "127.0.0.1", "closed"},
		{"edge 3, from another address", edge, "127.0.0.2", "404"},
		{"edge: a fourth in all", edge, "127.0.0.3", "closed"},
		{"api 1, while the edge is full", api, "127.0.0.1", "200"},
		{"api 2", api, "127.0.0.1", "200"},
		{"api: a third from one address", api, "127.0.0.1", "closed"},
		{"api 3, from another address", api, "127.0.0.2", "200"},
		{"api: a fourth in all", api, "127.0.0.3", "closed"},
	}
	// The steps build on each other: they run in order, each connection stays open to
	// the test's end, and the first step that fails ends the test.
	for _, s := range steps {
		c := dialFrom(t, s.src, s.addr)
		ok := t.Run(s.name, func(t *testing.T) {
			host, path := "nosuch.localhost", "/x"
			if s.addr == api {
				host, path = "cp.test", "/healthz"
			}
			if got := ask(c, host, path); got != s.want {
				t.Fatalf("%s, want %s", got, s.want)
			}
		})
		if !ok {
			break
		}
	}
}

func TestConnBudget(t *testing.T) {
	for _, tc := range []struct {
		limit     uint64
		edge, api int
	}{
		{20000, 8976, 1024}, // the attack review's machine
		{1 << 20, 523264, 1024},
		{4096, 1440, 192},
		{1024, 360, 48},
		{16, 5, 1},
		{1<<64 - 1, 1<<23 - 1024, 1024}, // RLIM_INFINITY
	} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			edge, api := connBudget(tc.limit)
			if edge != tc.edge || api != tc.api {
				t.Fatalf("edge %d, api %d; want %d, %d", edge, api, tc.edge, tc.api)
			}
			if used := uint64(2*edge + api); used >= tc.limit {
				t.Fatalf("a full edge (with an upstream connection each) and API take %d of %d descriptors", used, tc.limit)
			}
		})
	}
}

// TestDefaultConnsAreBelowTheFDLimit: with no limits given, serve reads this process's
// descriptor limit and leaves room below it.
func TestDefaultConnsAreBelowTheFDLimit(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	c, err := Conns{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	edge, api := connBudget(rl.Cur)
	want := Conns{Edge: edge, API: api, PerPeer: 256, IdleTimeout: 2 * time.Minute}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Fatalf("defaults under an fd limit of %d (-want +got):\n%s", rl.Cur, diff)
	}
}
