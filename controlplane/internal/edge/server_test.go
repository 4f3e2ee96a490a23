package edge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/platform/testkit/poll"
)

// acmeRouter routes acme.sproud.test to an upstream answering as in1 (see upstream).
func acmeRouter(t *testing.T, o Options) *Router {
	t.Helper()
	return routerTo(t, addrOf(upstream(t, "in1")), o)
}

func routerTo(t *testing.T, upstream string, o Options) *Router {
	t.Helper()
	o.BaseDomain = "sproud.test"
	r := New(&routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: upstream}}}, o)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// serveEdge runs r as sproudctl serve does (its Server over its Listener) on
// 127.0.0.1 and returns the address.
func serveEdge(t *testing.T, r *Router) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := r.Server()
	go srv.Serve(r.Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// dialFrom connects to addr from src: every address of 127.0.0.0/8 reaches the
// loopback, so each stands for another visitor.
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

// Outcomes of ask.
const (
	served = "served" // an HTTP answer came
	closed = "closed" // the edge closed the connection
	hung   = "hung"   // nothing came within 5 s
)

// ask sends prefix (a PROXY header, or nothing) and one keep-alive request for host
// on c, and tells what came back. A served connection stays open.
func ask(t *testing.T, c net.Conn, prefix func(net.Conn), host string) string {
	t.Helper()
	if prefix != nil {
		prefix(c)
	}
	fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	switch {
	case err == nil:
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return served
	case errors.Is(err, os.ErrDeadlineExceeded):
		return hung
	}
	return closed
}

// closedWithin reports whether the edge closes c (which sends nothing more) within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// timeoutsPassed returns once the edge has closed two connections opened now: an idle
// keep-alive one (from 127.0.0.2) and one that stopped halfway through its header
// (from 127.0.0.3). Then more than the edge's IdleTimeout and ReadHeaderTimeout have
// passed since the call, without the test guessing how long that takes.
func timeoutsPassed(t *testing.T, addr string) {
	t.Helper()
	idle := dialFrom(t, "127.0.0.2", addr)
	if got := ask(t, idle, nil, "nobody.sproud.test"); got != served {
		t.Fatalf("probe: %s", got)
	}
	slow := dialFrom(t, "127.0.0.3", addr)
	fmt.Fprint(slow, "GET / HTTP/1.1\r\nHost: nob")
	for name, c := range map[string]net.Conn{"an idle connection": idle, "a connection with half a header": slow} {
		if !closedWithin(c, 10*time.Second) {
			t.Fatalf("the edge kept %s open for 10 s past its timeouts", name)
		}
	}
}

// TestIdleConnectionIsClosed: a keep-alive connection that carries no more requests is
// closed once the idle timeout has passed (it used to stay open for good).
func TestIdleConnectionIsClosed(t *testing.T) {
	addr := serveEdge(t, acmeRouter(t, Options{IdleTimeout: 100 * time.Millisecond}))
	c := dialFrom(t, "127.0.0.1", addr)
	for _, host := range []string{"nosuch.sproud.test", "acme.sproud.test"} {
		if got := ask(t, c, nil, host); got != served {
			t.Fatalf("%s: %s", host, got)
		}
	}
	if !closedWithin(c, 10*time.Second) {
		t.Fatal("an idle connection was still open 10 s after the 100 ms idle timeout")
	}
}

// TestConnectionsPerPeerAreCapped: by default one address holds at most 256
// connections; the next is closed at once, while another address is still served, and
// a connection that closes gives its place back.
func TestConnectionsPerPeerAreCapped(t *testing.T) {
	addr := serveEdge(t, acmeRouter(t, Options{}))
	var held []net.Conn
	for i := range 256 {
		c := dialFrom(t, "127.0.0.1", addr)
		if got := ask(t, c, nil, "nosuch.sproud.test"); got != served {
			t.Fatalf("connection %d: %s", i+1, got)
		}
		held = append(held, c)
	}
	if got := ask(t, dialFrom(t, "127.0.0.1", addr), nil, "acme.sproud.test"); got != closed {
		t.Fatalf("connection 257 from one address: %s, want closed", got)
	}
	if got := ask(t, dialFrom(t, "127.0.0.2", addr), nil, "acme.sproud.test"); got != served {
		t.Fatalf("another address: %s", got)
	}
	held[0].Close()
	poll.Eventually(t, "the closed connection's place to be given back", func() bool {
		return ask(t, dialFrom(t, "127.0.0.1", addr), nil, "acme.sproud.test") == served
	})
}

// TestTrustedProxyIsExempt: a trusted proxy's own connections are not held to the
// per-peer cap (they carry many visitors); a connection it opens with a PROXY header
// counts for the visitor the header names. An untrusted peer's PROXY header is ignored
// here too: its connections count as its own.
func TestTrustedProxyIsExempt(t *testing.T) {
	prefixes, _ := ParseTrustedProxies("127.0.0.1")
	addr := serveEdge(t, acmeRouter(t, Options{TrustedProxies: prefixes, MaxConnsPerPeer: 3}))
	type conns struct {
		name   string
		src    string
		prefix func(net.Conn)
		want   []string // one per connection, opened in turn and held
	}
	for _, tc := range []conns{
		{"the proxy's own", "127.0.0.1", nil, []string{served, served, served, served, served, served}},
		{"PROXY v1 for one visitor", "127.0.0.1", proxyV1("203.0.113.8"), []string{served, served, served, closed}},
		{"PROXY v2 for the same visitor", "127.0.0.1", proxyV2("203.0.113.8"), []string{closed}},
		{"PROXY v2 for another visitor", "127.0.0.1", proxyV2("203.0.113.9"), []string{served, served, served, closed}},
		{"an untrusted peer's PROXY header", "127.0.0.2", proxyV1("203.0.113.10"), []string{served, served, served, closed}},
		{"the visitor it named, through the proxy", "127.0.0.1", proxyV1("203.0.113.10"), []string{served}},
	} {
		held := t // the connections stay open till the end, across the cases
		t.Run(tc.name, func(t *testing.T) {
			for i, want := range tc.want {
				if got := ask(t, dialFrom(held, tc.src, addr), tc.prefix, "acme.sproud.test"); got != want {
					t.Fatalf("connection %d: %s, want %s", i+1, got, want)
				}
			}
		})
	}
}

// TestConnectionsInAllAreCapped: past MaxConns every new connection is closed at once,
// whoever opens it, until one closes.
func TestConnectionsInAllAreCapped(t *testing.T) {
	prefixes, _ := ParseTrustedProxies("127.0.0.1")
	addr := serveEdge(t, acmeRouter(t, Options{TrustedProxies: prefixes, MaxConns: 3}))
	var held []net.Conn
	for _, src := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		c := dialFrom(t, src, addr)
		if got := ask(t, c, nil, "acme.sproud.test"); got != served {
			t.Fatalf("%s: %s", src, got)
		}
		held = append(held, c)
	}
	for _, src := range []string{"127.0.0.1", "127.0.0.4"} {
		if got := ask(t, dialFrom(t, src, addr), nil, "acme.sproud.test"); got != closed {
			t.Fatalf("%s past the cap: %s, want closed", src, got)
		}
	}
	held[1].Close()
	poll.Eventually(t, "the closed connection's place to be given back", func() bool {
		return ask(t, dialFrom(t, "127.0.0.4", addr), nil, "acme.sproud.test") == served
	})
}

// TestStreamOutlivesTheTimeouts: an answer that streams (server-sent events, a long
// poll) is not cut off by the edge's timeouts, however long it goes on.
func TestStreamOutlivesTheTimeouts(t *testing.T) {
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Header().Set(InstanceHeader, "in1")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			if i > 0 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() { close(next) })
	addr := serveEdge(t, routerTo(t, addrOf(up), Options{IdleTimeout: 50 * time.Millisecond, ReadHeaderTimeout: 50 * time.Millisecond}))
	c := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprint(c, "GET /events HTTP/1.1\r\nHost: acme.sproud.test\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	defer c.Close() // first: Close would read the rest of a stream that has none
	body := bufio.NewReader(res.Body)
	for i := range 3 {
		if i > 0 {
			timeoutsPassed(t, addr)
			next <- struct{}{}
		}
		line, err := body.ReadString('\n')
		body.ReadString('\n')
		if want := fmt.Sprintf("data: %d\n", i); line != want || err != nil {
			t.Fatalf("event %d: %q %v, want %q", i, line, err, want)
		}
	}
}
