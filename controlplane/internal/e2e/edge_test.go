package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/pires/go-proxyproto"

	cpclient "github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/platform/testkit/apiclient"
	"github.com/sproudstack/sproudchat/platform/testkit/poll"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/docker"
)

// TestEdgeFollowsARestartedContainer restarts an instance's container (docker restart)
// and crashes it (SIGKILL to the app process; the restart policy brings it back). Docker
// gives it a new host port each time, while the store keeps the old one. A listener
// that takes the old port and answers /healthz like another instance never receives a
// visitor's request, and the edge serves the instance again within 5 s of its /readyz
// answering on the new port.
func TestEdgeFollowsARestartedContainer(t *testing.T) {
	p := newPlane(t, "docker")
	p.start()
	inst := p.create(uniqueSlug("move"))
	p.destroyAtEnd(inst.ID)
	p.wait(inst.ID, "active")
	eng, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	cs, err := eng.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", docker.LabelInstance+"="+inst.ID), filters.Arg("label", docker.LabelRole+"=app"))})
	if err != nil || len(cs) != 1 {
		t.Fatalf("the app container: %v %v", cs, err)
	}
	app := cs[0].ID
	if code, _ := p.customer(inst.URL).Call("GET", "/readyz", nil); code != 200 {
		t.Fatalf("before: %d", code)
	}
	for _, how := range []struct {
		name string
		do   func() error
	}{
		{"docker restart", func() error { return eng.ContainerRestart(ctx, app, container.StopOptions{}) }},
		{"crash", func() error {
			in, err := eng.ContainerInspect(ctx, app)
			if err != nil {
				return err
			}
			return syscall.Kill(in.State.Pid, syscall.SIGKILL)
		}},
	} {
		t.Run(how.name, func(t *testing.T) {
			old, started := hostPort(t, eng, app), startedAt(t, eng, app)
			errc := make(chan error, 1)
			go func() { errc <- how.do() }()
			// Take the old port as soon as Docker lets go of it.
			var imp *impostorServer
			poll.Eventually(t, "the old port "+old+" to be free", func() bool {
				if imp = listenImpostor(old); imp == nil && startedAt(t, eng, app) != started && hostPort(t, eng, app) == old {
					t.Fatalf("the container came back on its old port %s", old)
				}
				return imp != nil
			})
			defer imp.close()
			var now string
			poll.Eventually(t, "the container to answer /readyz on a new port", func() bool {
				now = hostPort(t, eng, app)
				return now != "" && now != old && provisioning.Probe(ctx, "127.0.0.1:"+now)
			})
			ready := time.Now()
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			c := p.customerOf(t, inst.URL)
			served := false
			for i := 0; !served && time.Since(ready) < 5*time.Second; i++ {
				if code, _ := c.Call("GET", "/readyz?visitor="+strconv.Itoa(i), nil); code == 200 {
					served = true
				} else {
					time.Sleep(20 * time.Millisecond)
				}
			}
			if !served {
				t.Fatalf("the edge did not serve the instance within 5 s of it being ready on port %s\nserve output:\n%s", now, p.output())
			}
			got := imp.requests()
			if strings.Contains(got, "visitor=") {
				t.Fatalf("the listener on the old port received a visitor's request:\n%s", got)
			}
			if !strings.Contains(got, "GET /healthz") {
				t.Fatalf("the edge never tried the old port, so this proves nothing; the listener saw:\n%s", got)
			}
			if got, _ := p.api.Instance(ctx, inst.ID); got.State != "active" {
				t.Fatalf("instance state %s", got.State)
			}
		})
	}
}

// destroyAtEnd destroys the instance and waits for it to be gone before serve stops
// (cleanups run last in, first out), so the test leaves nothing in the runtime.
func (p *plane) destroyAtEnd(id string) {
	p.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := p.api.Destroy(ctx, id); err != nil {
			p.t.Errorf("destroy %s: %v", id, err)
			return
		}
		if _, err := p.api.WaitFor(ctx, id, func(cpclient.Instance) {}, "destroyed"); err != nil {
			p.t.Errorf("destroy %s: %v\nserve output:\n%s", id, err, p.output())
		}
		if left := p.leftovers(id); len(left) > 0 {
			p.t.Errorf("left after destroy: %v", left)
		}
	})
}

func hostPort(t *testing.T, eng *client.Client, id string) string {
	in, err := eng.ContainerInspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if in.NetworkSettings == nil {
		return ""
	}
	for _, b := range in.NetworkSettings.Ports["8080/tcp"] {
		if b.HostPort != "" {
			return b.HostPort
		}
	}
	return ""
}

func startedAt(t *testing.T, eng *client.Client, id string) string {
	in, err := eng.ContainerInspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return in.State.StartedAt
}

// impostorServer is another program on a port the instance had: it answers /healthz
// as another instance would, and keeps the request line of everything it is sent.
type impostorServer struct {
	srv  *http.Server
	mu   sync.Mutex
	seen []string
}

func listenImpostor(port string) *impostorServer {
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return nil
	}
	s := &impostorServer{}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.RequestURI())
		s.mu.Unlock()
		w.Header().Set("Sproudchat-Instance", "in-someone-else")
		io.WriteString(w, `{"status":"ok"}`)
	})}
	go s.srv.Serve(ln)
	return s
}

func (s *impostorServer) requests() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.seen, "\n")
}

func (s *impostorServer) close() { s.srv.Close() }

// TestEdgeTellsTheInstanceTheVisitorsAddress runs serve with --trusted-proxies
// 127.0.0.1/32 and reads, in the instance's audit log, the address the instance
// recorded for each login: the one a trusted proxy reported (X-Forwarded-For, PROXY v1,
// PROXY v2), and the peer's own for an untrusted peer (127.0.0.2) whatever it claims.
func TestEdgeTellsTheInstanceTheVisitorsAddress(t *testing.T) {
	for _, rt := range []string{"process", "docker"} {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			p := newPlane(t, rt)
			p.args = []string{"--trusted-proxies", "127.0.0.1/32"}
			p.start()
			inst := p.create(uniqueSlug("addr"))
			p.destroyAtEnd(inst.ID)
			p.wait(inst.ID, "active")
			setup, _ := url.Parse(inst.SetupURL)

			admin := p.visitor(inst.URL, "127.0.0.1", nil, "198.51.100.66, 203.0.113.7")
			if code, out := admin.Call("POST", "/api/v1/setup", map[string]string{"token": setup.Query().Get("token"), "name": "Olivia Owner",
				"email": "owner@example.org", "password": "owner password 1"}); code != 201 {
				t.Fatalf("setup: %d %v", code, out)
			}
			admin.Login("owner@example.org", "owner password 1")
			for _, v := range []*customer{
				p.visitor(inst.URL, "127.0.0.1", proxyV1("203.0.113.8"), ""),
				p.visitor(inst.URL, "127.0.0.1", proxyV2("203.0.113.9"), ""),
				p.visitor(inst.URL, "127.0.0.2", nil, "203.0.113.66"),
				p.visitor(inst.URL, "127.0.0.2", proxyV1("203.0.113.67"), "203.0.113.68"),
			} {
				v.Login("owner@example.org", "owner password 1")
			}
			code, out := admin.Call("GET", "/api/v1/audit?action=login", nil)
			if code != 200 {
				t.Fatalf("audit: %d %v", code, out)
			}
			var ips []string
			for _, e := range out["items"].([]any) {
				ips = append(ips, e.(map[string]any)["ip"].(string))
			}
			// Newest first.
			if got, want := strings.Join(ips, " "), "127.0.0.2 127.0.0.2 203.0.113.9 203.0.113.8 203.0.113.7"; got != want {
				t.Fatalf("the instance recorded logins from %s; want %s", got, want)
			}
		})
	}
}

// visitor is a customer whose connections to the edge come from the local address
// from, open with prefix (a PROXY header) when given, and carry X-Forwarded-For: xff
// when given.
func (p *plane) visitor(base, from string, prefix func(net.Conn) error, xff string) *customer {
	edge := p.edgeAddr
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, edge)
		if err == nil && prefix != nil {
			if err = prefix(conn); err != nil {
				conn.Close()
			}
		}
		return conn, err
	}
	var rt http.RoundTripper = &http.Transport{DialContext: dial}
	if xff != "" {
		rt = addHeader{rt, "X-Forwarded-For", xff}
	}
	return apiclient.New(p.t, base, apiclient.Options{HTTP: &http.Client{Timeout: 15 * time.Second, Transport: rt}})
}

type addHeader struct {
	next        http.RoundTripper
	name, value string
}

func (a addHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(a.name, a.value)
	return a.next.RoundTrip(r)
}

func proxyV1(src string) func(net.Conn) error {
	return func(c net.Conn) error {
		_, err := fmt.Fprintf(c, "PROXY TCP4 %s 127.0.0.1 40000 443\r\n", src)
		return err
	}
}

func proxyV2(src string) func(net.Conn) error {
	return func(c net.Conn) error {
		h := &proxyproto.Header{Version: 2, Command: proxyproto.PROXY, TransportProtocol: proxyproto.TCPv4,
			SourceAddr: &net.TCPAddr{IP: net.ParseIP(src), Port: 40000}, DestinationAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 443}}
		_, err := h.WriteTo(c)
		return err
	}
}

// TestEdgeCapsOneAddressesConnections holds 256 keep-alive connections from one address
// to the real binary's edge (the attack review held 20,000, the process's descriptor
// limit, and then nothing was served): the 257th is closed at once, while a visitor at
// another address reaches a real instance and the API answers.
func TestEdgeCapsOneAddressesConnections(t *testing.T) {
	p := newPlane(t, "process")
	p.start()
	inst := p.create(uniqueSlug("cap"))
	p.destroyAtEnd(inst.ID)
	p.wait(inst.ID, "active")
	if !strings.Contains(p.output(), `"max_conns_per_peer":256`) {
		t.Fatalf("serve does not log its connection caps:\n%s", p.output())
	}
	ask := func(from string) (*http.Response, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", p.edgeAddr)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprint(c, "GET /x HTTP/1.1\r\nHost: nosuch.localhost\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			res.Body.Close()
		}
		return res, err
	}
	for i := range 256 {
		if res, err := ask("127.0.0.1"); err != nil || res.StatusCode != 404 {
			t.Fatalf("connection %d: %v %v", i+1, res, err)
		}
	}
	if res, err := ask("127.0.0.1"); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection 257 from one address: %v %v, want it closed at once", res, err)
	}
	if code, _ := p.visitor(inst.URL, "127.0.0.2", nil, "").Call("GET", "/readyz", nil); code != 200 {
		t.Fatalf("a visitor at another address: %d", code)
	}
	if _, err := p.api.Instance(context.Background(), inst.ID); err != nil {
		t.Fatalf("the API: %v", err)
	}
}
