package edge

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
)

// locator is the runtime as the edge sees it: where an instance is now.
type locator struct {
	mu    sync.Mutex
	where map[string]string
	// run names an instance's app while it runs (its container, its process); not in
	// run: the app does not run.
	run   map[string]app
	err   error
	calls int
}

type app struct {
	name  string
	ready bool
}

func (l *locator) Status(_ context.Context, id string) (provisioning.Status, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.err != nil {
		return provisioning.Status{}, l.err
	}
	st := provisioning.Status{ID: id, Upstream: l.where[id], Phase: provisioning.PhaseStopped}
	if a, ok := l.run[id]; ok {
		st.Phase, st.Ready = provisioning.PhaseRunning, a.ready
		st.Components = []provisioning.Component{{Kind: "app", Name: a.name, State: "running"}, {Kind: "volume", Name: id + "-data", State: "present"}}
	}
	return st, nil
}

// runs says the runtime sees instance id's app name running and ready at addr; addr ""
// with name "": the app does not run.
func (l *locator) runs(id, addr, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.where[id] = addr
	if l.run == nil {
		l.run = map[string]app{}
	}
	if name == "" {
		delete(l.run, id)
	} else {
		l.run[id] = app{name: name, ready: true}
	}
}

func (l *locator) set(id, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.where[id] = addr
}

func (l *locator) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// recorder is whatever else listens on a port: it keeps every byte it is sent.
type recorder struct {
	ln   net.Listener
	mu   sync.Mutex
	seen strings.Builder
	wg   sync.WaitGroup
}

// impostor listens on a fresh port. With answer it speaks HTTP and answers /healthz
// 200 with the given header value (a program that is not the instance, or another
// instance); without, it reads and answers nothing.
func impostor(t *testing.T, answer bool, id string) *recorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{ln: ln}
	if answer {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec.mu.Lock()
			rec.seen.WriteString(r.Method + " " + r.URL.Path + "\n")
			rec.mu.Unlock()
			if id != "" {
				w.Header().Set(InstanceHeader, id)
			}
			io.WriteString(w, `{"status":"ok"}`)
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return rec
	}
	rec.wg.Add(1)
	go func() {
		defer rec.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rec.wg.Add(1)
			go func() {
				defer rec.wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					rec.mu.Lock()
					rec.seen.Write(buf[:n])
					rec.mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return rec
}

func (r *recorder) addr() string { return r.ln.Addr().String() }

func (r *recorder) got() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen.String()
}

func edgeFor(t *testing.T, src *routes, o Options) (*Router, func(host, path string) (int, string)) {
	o.BaseDomain = "sproud.test"
	r := New(src, o)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return r, func(host, path string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Host = host
		req.Header.Set("Cookie", "session=visitor-secret")
		res, err := cl.Do(req)
		if err != nil {
			t.Error(err) // may run on another goroutine
			return 0, ""
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
}

// TestWrongInstanceOnThePortNeverGetsTheRequest: the stored upstream is taken by
// something else (a program that answers no id, another instance, one that answers
// nothing); the visitor's request goes to where the runtime says the instance is now,
// and the impostor sees at most the edge's /healthz question, never the request.
func TestWrongInstanceOnThePortNeverGetsTheRequest(t *testing.T) {
	for name, imp := range map[string]func(t *testing.T) *recorder{
		"a program answering no id": func(t *testing.T) *recorder { return impostor(t, true, "") },
		"another instance":          func(t *testing.T) *recorder { return impostor(t, true, "in-other") },
		"a silent listener":         func(t *testing.T) *recorder { return impostor(t, false, "") },
	} {
		t.Run(name, func(t *testing.T) {
			bad := imp(t)
			real := upstream(t, "in1")
			loc := &locator{where: map[string]string{"in1": strings.TrimPrefix(real.URL, "http://")}}
			_, get := edgeFor(t, &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: bad.addr()}}},
				Options{Locator: loc, CheckTimeout: checkTimeoutForTests})
			code, body := get("acme.sproud.test", "/private/inbox")
			if code != 200 || !strings.Contains(body, "path=/private/inbox") {
				t.Fatalf("through the edge: %d %s", code, body)
			}
			if got := bad.got(); strings.Contains(got, "/private/inbox") || strings.Contains(got, "visitor-secret") {
				t.Fatalf("the impostor saw the visitor's request:\n%s", got)
			}
		})
	}
}

// checkTimeoutForTests bounds the wait on the silent listener, which never answers the
// identity check; any request that reached it would be recorded all the same.
const checkTimeoutForTests = 500 * time.Millisecond

// TestUnknownIdentityIsA502AndNothingIsForwarded: when the runtime cannot say where the
// instance is (or names the same wrong place), the visitor gets the 502 page.
func TestUnknownIdentityIsA502AndNothingIsForwarded(t *testing.T) {
	for name, loc := range map[string]*locator{
		"runtime fails":      {where: map[string]string{}, err: errors.New("engine down")},
		"runtime knows none": {where: map[string]string{}},
		"no runtime":         nil,
	} {
		t.Run(name, func(t *testing.T) {
			bad := impostor(t, true, "in-other")
			o := Options{}
			if loc != nil {
				o.Locator = loc
			}
			_, get := edgeFor(t, &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: bad.addr()}}}, o)
			code, body := get("acme.sproud.test", "/private/inbox")
			if code != http.StatusBadGateway || !strings.Contains(body, "<h1>") {
				t.Fatalf("%d %s, want the 502 page", code, body)
			}
			if got := bad.got(); strings.Contains(got, "/private/inbox") {
				t.Fatalf("the impostor saw the visitor's request:\n%s", got)
			}
		})
	}
	t.Run("same wrong place", func(t *testing.T) {
		bad := impostor(t, true, "in-other")
		loc := &locator{where: map[string]string{"in1": bad.addr()}}
		_, get := edgeFor(t, &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: bad.addr()}}}, Options{Locator: loc})
		if code, _ := get("acme.sproud.test", "/private/inbox"); code != http.StatusBadGateway {
			t.Fatalf("%d, want 502", code)
		}
		if got := bad.got(); strings.Contains(got, "/private/inbox") {
			t.Fatalf("the impostor saw the visitor's request:\n%s", got)
		}
	})
}

// TestRestartToANewPortIsFollowed: the app comes back on another port (as a restarted
// container does) while the store still names the old one. The edge follows the runtime
// there, keeps the new address without asking again, and drops it when the store
// names a new upstream.
func TestRestartToANewPortIsFollowed(t *testing.T) {
	first := upstream(t, "in1")
	src := &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: strings.TrimPrefix(first.URL, "http://")}}}
	loc := &locator{where: map[string]string{}}
	r, get := edgeFor(t, src, Options{Locator: loc})
	if code, body := get("acme.sproud.test", "/a"); code != 200 || !strings.Contains(body, "path=/a") {
		t.Fatalf("before the restart: %d %s", code, body)
	}
	first.Close() // the old port is free: nothing listens there now

	second := upstream(t, "in1")
	loc.set("in1", strings.TrimPrefix(second.URL, "http://"))
	for _, path := range []string{"/b", "/c", "/d"} {
		if code, body := get("acme.sproud.test", path); code != 200 || !strings.Contains(body, "path="+path) {
			t.Fatalf("after the restart: %d %s", code, body)
		}
	}
	if n := loc.count(); n != 1 {
		t.Fatalf("asked the runtime %d times, want once: the new address is kept", n)
	}
	// A refresh that brings no news keeps the learnt address.
	r.Refresh(context.Background())
	r.transport.CloseIdleConnections()
	if code, _ := get("acme.sproud.test", "/e"); code != 200 || loc.count() != 1 {
		t.Fatalf("after a refresh without news: %d, runtime asked %d times", code, loc.count())
	}

	// The reconciler stores a new upstream: that one wins, the learnt one is forgotten.
	third := upstream(t, "in1")
	src.mu.Lock()
	src.rs[0].Upstream = strings.TrimPrefix(third.URL, "http://")
	src.mu.Unlock()
	r.Refresh(context.Background())
	second.Close()
	if code, body := get("acme.sproud.test", "/f"); code != 200 || !strings.Contains(body, "path=/f") || loc.count() != 1 {
		t.Fatalf("after the store moved it: %d %s, runtime asked %d times", code, body, loc.count())
	}
}

// TestConcurrentRequestsDuringAMove all arrive while the stored port is dead; each is
// served by the instance at its new port.
func TestConcurrentRequestsDuringAMove(t *testing.T) {
	dead := upstream(t, "in1")
	addr := strings.TrimPrefix(dead.URL, "http://")
	dead.Close()
	now := upstream(t, "in1")
	loc := &locator{where: map[string]string{"in1": strings.TrimPrefix(now.URL, "http://")}}
	_, get := edgeFor(t, &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: addr}}}, Options{Locator: loc})
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for range 20 {
		wg.Go(func() {
			if code, body := get("acme.sproud.test", "/x"); code != 200 {
				errs <- body
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a request failed: %s", e)
	}
}

// TestRuntimeIsAskedAtMostOncePerInterval: requests for an instance that is down do not
// each cost a question to the engine.
func TestRuntimeIsAskedAtMostOncePerInterval(t *testing.T) {
	dead := upstream(t, "in1")
	addr := strings.TrimPrefix(dead.URL, "http://")
	dead.Close()
	loc := &locator{where: map[string]string{}} // restarting: no port yet
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	_, get := edgeFor(t, &routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: addr}}}, Options{Locator: loc, Clock: clk})
	for range 5 {
		if code, _ := get("acme.sproud.test", "/x"); code != http.StatusBadGateway {
			t.Fatalf("%d, want 502 while the instance is down", code)
		}
	}
	if n := loc.count(); n != 1 {
		t.Fatalf("asked the runtime %d times within %s, want once", n, LookupEvery)
	}
	back := upstream(t, "in1")
	loc.set("in1", strings.TrimPrefix(back.URL, "http://"))
	clk.Advance(LookupEvery)
	if code, body := get("acme.sproud.test", "/x"); code != 200 || loc.count() != 2 {
		t.Fatalf("after %s: %d %s, runtime asked %d times", LookupEvery, code, body, loc.count())
	}
}
