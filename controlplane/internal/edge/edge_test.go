package edge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/platform/testkit/poll"
)

type routes struct {
	mu sync.Mutex
	rs []lifecycle.Route
}

func (r *routes) Routes(context.Context) ([]lifecycle.Route, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]lifecycle.Route(nil), r.rs...), nil
}

// upstream is instance id: its /healthz answers the id (none for "", as an app started
// before SPROUDCHAT_INSTANCE_ID does), other paths answer with what they saw, and it
// echoes five-byte messages after an Upgrade.
func upstream(t *testing.T, id string) *httptest.Server {
	s := httptest.NewServer(appHandler(t, id))
	t.Cleanup(s.Close)
	return s
}

func appHandler(t *testing.T, id string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if id != "" {
				w.Header().Set(InstanceHeader, id)
			}
			fmt.Fprint(w, `{"status":"ok"}`)
			return
		}
		if r.Header.Get("Upgrade") == "websocket" {
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			rw.Flush()
			buf := make([]byte, 5) // messages of five bytes, echoed until the visitor leaves
			for {
				if _, err := io.ReadFull(rw, buf); err != nil {
					return
				}
				rw.Write(buf)
				if rw.Flush() != nil {
					return
				}
			}
		}
		fmt.Fprintf(w, "host=%s xff=%s xfh=%s xfp=%s path=%s", r.Host, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Host"),
			r.Header.Get("X-Forwarded-Proto"), r.URL.Path)
	})
}

func TestRoutesByHostAndState(t *testing.T) {
	addr := func(id string) string { return strings.TrimPrefix(upstream(t, id).URL, "http://") }
	src := &routes{rs: []lifecycle.Route{
		{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: addr("in1")},
		{Slug: "readonly", ID: "in2", State: lifecycle.Suspended, Upstream: addr("in2")},
		{Slug: "fresh", ID: "in3", State: lifecycle.Provisioning},
		{Slug: "restoring", ID: "in7", State: lifecycle.Restoring, Upstream: addr("in7")},
		{Slug: "gone", ID: "in4", State: lifecycle.Destroyed},
		{Slug: "reborn", ID: "in5", State: lifecycle.Destroyed},
		{Slug: "reborn", ID: "in6", State: lifecycle.Active, Upstream: addr("in6")},
	}}
	r := New(src, Options{BaseDomain: "sproud.test"})
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	edge := httptest.NewServer(r)
	defer edge.Close()
	get := func(host, path string) (int, http.Header, string) {
		req, _ := http.NewRequest("GET", edge.URL+path, nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}
	code, _, body := get("acme.sproud.test:8080", "/inbox")
	if code != 200 || !strings.Contains(body, "host=acme.sproud.test:8080") || !strings.Contains(body, "xff=127.0.0.1") ||
		!strings.Contains(body, "xfh=acme.sproud.test:8080") || !strings.Contains(body, "xfp=http") || !strings.Contains(body, "path=/inbox") {
		t.Fatalf("proxied: %d %s", code, body)
	}
	for host, want := range map[string]int{"readonly.sproud.test": 200, "reborn.sproud.test": 200, "fresh.sproud.test": 503,
		"restoring.sproud.test": 503,
		"gone.sproud.test":      410, "nobody.sproud.test": 404, "sproud.test": 404, "a.b.sproud.test": 404, "acme.evil.test": 404} {
		t.Run(host, func(t *testing.T) {
			code, h, body := get(host, "/")
			if code != want {
				t.Errorf("%d, want %d", code, want)
			}
			if code == 503 && h.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if code >= 400 && !strings.Contains(body, "<h1>") {
				t.Errorf("no page: %s", body)
			}
		})
	}
	// A state change shows after a refresh, not before.
	src.mu.Lock()
	src.rs[2] = lifecycle.Route{Slug: "fresh", ID: "in3", State: lifecycle.Active, Upstream: addr("in3")}
	src.mu.Unlock()
	if code, _, _ := get("fresh.sproud.test", "/"); code != 503 {
		t.Fatalf("before refresh: %d", code)
	}
	r.Refresh(context.Background())
	if code, _, _ := get("fresh.sproud.test", "/"); code != 200 {
		t.Fatalf("after refresh: %d", code)
	}
}

// TestWebSocketUpgradePassesThrough: a WebSocket is relayed both ways for as long as
// it lives, far past the edge's idle and header timeouts, and holds its visitor's
// connection place until it closes.
func TestWebSocketUpgradePassesThrough(t *testing.T) {
	r := acmeRouter(t, Options{IdleTimeout: 50 * time.Millisecond, ReadHeaderTimeout: 50 * time.Millisecond, MaxConnsPerPeer: 1})
	edge := serveEdge(t, r)
	conn := dialFrom(t, "127.0.0.1", edge)
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: acme.sproud.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	for i, msg := range []string{"hello", "again", "still"} {
		if i > 0 {
			timeoutsPassed(t, edge) // the WebSocket is silent meanwhile
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		conn.Write([]byte(msg))
		buf := make([]byte, 5)
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
			t.Fatalf("message %d through the upgraded connection: %q %v", i+1, buf, err)
		}
	}
	if got := ask(t, dialFrom(t, "127.0.0.1", edge), nil, "acme.sproud.test"); got != closed {
		t.Fatalf("a second connection while the WebSocket holds 127.0.0.1's one: %s, want closed", got)
	}
	conn.Close()
	poll.Eventually(t, "the WebSocket's connection place to be given back", func() bool {
		return ask(t, dialFrom(t, "127.0.0.1", edge), nil, "acme.sproud.test") == served
	})
}
