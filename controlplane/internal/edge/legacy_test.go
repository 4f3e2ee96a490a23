package edge

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/testkit/logbuf"
)

// legacyLog is the sentence the edge logs, once per instance, about an app that answers
// no id.
const legacyLog = "edge upstream answers no instance id"

func addrOf(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

// TestLegacyInstanceIsServedWhereTheRuntimeVouches: an app started before its runtime
// passed SPROUDCHAT_INSTANCE_ID answers /healthz with no id. It is served where the
// runtime says its running, ready app is, at the stored address and after a restart to
// a new port; the edge logs it once, not per request or connection, and a pooled
// connection costs no question to the runtime.
func TestLegacyInstanceIsServedWhereTheRuntimeVouches(t *testing.T) {
	t.Run("at its stored address", func(t *testing.T) {
		leg := upstream(t, "")
		loc := &locator{where: map[string]string{}}
		loc.runs("in1", addrOf(leg), "sproudchat-in1-app")
		var log logbuf.Buffer
		r, get := edgeFor(t, &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: addrOf(leg)}}},
			Options{Locator: loc, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if code, body := get("acme.sproud.test", "/a"); code != 200 || !strings.Contains(body, "path=/a") {
			t.Fatalf("first request: %d %s", code, body)
		}
		asked := loc.count()
		if code, body := get("acme.sproud.test", "/b"); code != 200 || !strings.Contains(body, "path=/b") {
			t.Fatalf("on the pooled connection: %d %s", code, body)
		}
		if n := loc.count(); n != asked {
			t.Fatalf("a pooled connection asked the runtime %d more times, want none", n-asked)
		}
		// New connections, several at once: each is vouched for again.
		r.transport.CloseIdleConnections()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if code, body := get("acme.sproud.test", "/c"); code != 200 || !strings.Contains(body, "path=/c") {
					t.Errorf("new connection: %d %s", code, body)
				}
			})
		}
		wg.Wait()
		if n := loc.count(); n == asked {
			t.Fatal("new connections were accepted without asking the runtime")
		}
		if n := strings.Count(log.String(), legacyLog); n != 1 {
			t.Fatalf("logged %d times that the instance answers no id, want once:\n%s", n, log.String())
		}
	})
	t.Run("after a restart to a new port", func(t *testing.T) {
		dead := upstream(t, "")
		old := addrOf(dead)
		dead.Close()
		leg := upstream(t, "")
		loc := &locator{where: map[string]string{}}
		loc.runs("in1", addrOf(leg), "sproudchat-in1-app")
		_, get := edgeFor(t, &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: old}}}, Options{Locator: loc})
		for _, path := range []string{"/a", "/b"} {
			if code, body := get("acme.sproud.test", path); code != 200 || !strings.Contains(body, "path="+path) {
				t.Fatalf("%s: %d %s", path, code, body)
			}
		}
	})
}

// TestNoIDImpostorNeverGetsTheRequest: a program that answers /healthz with no id sits
// at the stored address, and the runtime does not vouch for that address now: it names
// another port, or it says the app does not run or is not ready there, or its app died
// and the runtime's answer from before (still reused for locating) names that port.
// The impostor never sees the visitor's request: the edge moves on to where the runtime
// says the instance is, or answers 502.
func TestNoIDImpostorNeverGetsTheRequest(t *testing.T) {
	elsewhere := func(t *testing.T) string { return addrOf(upstream(t, "")) }
	deadPort := func(t *testing.T) string {
		s := upstream(t, "")
		s.Close()
		return addrOf(s)
	}
	for _, tc := range []struct {
		name string
		// runtime sets what the runtime says, given the impostor's address.
		runtime func(t *testing.T, loc *locator, bad string)
		want    int
	}{
		{"the runtime names another port, where the instance is", func(t *testing.T, loc *locator, _ string) {
			loc.runs("in1", elsewhere(t), "sproudchat-in1-app")
		}, 200},
		{"the runtime names another port, where nothing listens", func(t *testing.T, loc *locator, _ string) {
			loc.runs("in1", deadPort(t), "sproudchat-in1-app")
		}, http.StatusBadGateway},
		{"the runtime names the port, but the app does not run", func(t *testing.T, loc *locator, bad string) {
			loc.where["in1"] = bad
		}, http.StatusBadGateway},
		{"the runtime names the port, but the app is not ready", func(t *testing.T, loc *locator, bad string) {
			loc.where["in1"] = bad
			loc.run = map[string]app{"in1": {name: "sproudchat-in1-app"}}
		}, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := impostor(t, true, "")
			loc := &locator{where: map[string]string{}}
			tc.runtime(t, loc, bad.addr())
			_, get := edgeFor(t, &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: bad.addr()}}},
				Options{Locator: loc})
			code, body := get("acme.sproud.test", "/private/inbox")
			if code != tc.want || (code == 200 && !strings.Contains(body, "path=/private/inbox")) {
				t.Fatalf("%d %s, want %d", code, body, tc.want)
			}
			if got := bad.got(); strings.Contains(got, "/private/inbox") {
				t.Fatalf("the impostor saw the visitor's request:\n%s", got)
			}
		})
	}

	// The legacy app at A was served, so the runtime's answer "running at A" is cached
	// (the clock stands still: it is reused for locating). The app dies, a no-id
	// program takes A, the runtime now says the app does not run. The cached answer must
	// not vouch for the new connection to A.
	t.Run("the app died and a program took its port", func(t *testing.T) {
		leg := upstream(t, "")
		a := addrOf(leg)
		loc := &locator{where: map[string]string{}}
		loc.runs("in1", a, "sproudchat-in1-app")
		clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
		r, get := edgeFor(t, &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: a}}},
			Options{Locator: loc, Clock: clk})
		if code, body := get("acme.sproud.test", "/before"); code != 200 || !strings.Contains(body, "path=/before") {
			t.Fatalf("before: %d %s", code, body)
		}
		leg.Close()
		r.transport.CloseIdleConnections()
		loc.runs("in1", "", "") // restarting: no port yet
		bad := impostorAt(t, a)
		if code, _ := get("acme.sproud.test", "/private/inbox"); code != http.StatusBadGateway {
			t.Fatalf("%d, want 502", code)
		}
		if got := bad.got(); strings.Contains(got, "/private/inbox") {
			t.Fatalf("the impostor saw the visitor's request:\n%s", got)
		}
		if !strings.Contains(bad.got(), "GET /healthz") {
			t.Fatalf("the edge never tried the impostor, so this proves nothing; it saw:\n%s", bad.got())
		}
	})

	// The process runtime restarts a dead app on its old port. A program holds that port
	// when the edge connects, lets it go, and answers /healthz (no id) only once the
	// restarted app runs there, so the runtime, asked after that answer, truly names the
	// port. It names another app than before the dial, though: the impostor's connection
	// is dropped and the edge connects again, now to the app.
	t.Run("a program lets the port go before it answers", func(t *testing.T) {
		leg := upstream(t, "")
		a := addrOf(leg)
		loc := &locator{where: map[string]string{}}
		loc.runs("in1", a, "pid 4242")
		r, get := edgeFor(t, &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: a}}},
			Options{Locator: loc, CheckTimeout: 5 * time.Second})
		if code, body := get("acme.sproud.test", "/before"); code != 200 || !strings.Contains(body, "path=/before") {
			t.Fatalf("before: %d %s", code, body)
		}
		leg.Close()
		r.transport.CloseIdleConnections()
		loc.runs("in1", "", "") // the app died

		bad := portLetGo(t, a, func() {
			// The supervisor restarts the app on its old port, now free.
			ln, err := net.Listen("tcp", a)
			if err != nil {
				t.Error(err)
				return
			}
			back := httptest.NewUnstartedServer(appHandler(t, ""))
			back.Listener.Close()
			back.Listener = ln
			back.Start()
			t.Cleanup(back.Close)
			loc.runs("in1", a, "pid 4300")
		})
		code, body := get("acme.sproud.test", "/private/inbox")
		if got := bad.got(); strings.Contains(got, "/private/inbox") || strings.Contains(got, "visitor-secret") {
			t.Fatalf("the program that let the port go saw the visitor's request:\n%s", got)
		}
		if !strings.Contains(bad.got(), "GET /healthz") {
			t.Fatalf("the edge never tried the impostor, so this proves nothing; it saw:\n%s", bad.got())
		}
		if code != 200 || !strings.Contains(body, "path=/private/inbox") {
			t.Fatalf("after the restart: %d %s, want the restarted app's answer", code, body)
		}
	})
}

// TestAnotherIDIsRefusedWhereTheRuntimeVouches: an answer that carries an id other than
// the instance's (another instance's, or an empty one) is refused even when the runtime
// says the instance's running, ready app is at that very address.
func TestAnotherIDIsRefusedWhereTheRuntimeVouches(t *testing.T) {
	for name, ids := range map[string][]string{
		"another instance's id": {"in-other"},
		"an empty id":           {""},
	} {
		t.Run(name, func(t *testing.T) {
			bad := &recorder{}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			bad.ln = ln
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				bad.mu.Lock()
				bad.seen.WriteString(r.Method + " " + r.URL.Path + "\n")
				bad.mu.Unlock()
				w.Header()[InstanceHeader] = ids
				io.WriteString(w, `{"status":"ok"}`)
			})}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })

			loc := &locator{where: map[string]string{}}
			loc.runs("in1", bad.addr(), "sproudchat-in1-app")
			_, get := edgeFor(t, &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: bad.addr()}}},
				Options{Locator: loc})
			if code, _ := get("acme.sproud.test", "/private/inbox"); code != http.StatusBadGateway {
				t.Fatalf("%d, want 502", code)
			}
			got := bad.got()
			if strings.Contains(got, "/private/inbox") {
				t.Fatalf("the other instance saw the visitor's request:\n%s", got)
			}
			if !strings.Contains(got, "GET /healthz") {
				t.Fatalf("the edge never asked /healthz, so this proves nothing; it saw:\n%s", got)
			}
		})
	}
}

// impostorAt is a program answering /healthz with no id on addr, a port the instance
// had.
func impostorAt(t *testing.T, addr string) *recorder {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("take the port %s: %v", addr, err)
	}
	rec := &recorder{ln: ln}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen.WriteString(r.Method + " " + r.URL.Path + "\n")
		rec.mu.Unlock()
		io.WriteString(w, `{"status":"ok"}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return rec
}

// portLetGo is a program on addr that takes one connection, then closes its listener,
// lets meanwhile run, and only then answers /healthz (200, no id) on that connection.
// It keeps whatever it is sent afterwards and hangs up once it gets more.
func portLetGo(t *testing.T, addr string, meanwhile func()) *recorder {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("take the port %s: %v", addr, err)
	}
	rec := &recorder{ln: ln}
	t.Cleanup(func() { ln.Close(); rec.wg.Wait() })
	rec.wg.Add(1)
	go func() {
		defer rec.wg.Done()
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer c.Close()
		meanwhile()
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		rec.mu.Lock()
		rec.seen.WriteString(req.Method + " " + req.URL.Path + "\n")
		rec.mu.Unlock()
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"+`{"status":"ok"}`)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		n, _ := br.Read(buf)
		rec.mu.Lock()
		rec.seen.Write(buf[:n])
		rec.mu.Unlock()
	}()
	return rec
}
