package edge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/pires/go-proxyproto"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

// instanceIP is how the instance reads the visitor's address (instance/internal/web:
// echo's X-Forwarded-For extractor, trusting loopback and private networks, where the
// edge reaches it from).
var instanceIP = echo.ExtractIPFromXFFHeader(echo.TrustLoopback(true), echo.TrustPrivateNet(true), echo.TrustLinkLocal(false))

// addressEcho is an instance that answers the visitor's address as it reads it, and
// the forwarding headers it was sent.
func addressEcho(t *testing.T, id string) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Header().Set(InstanceHeader, id)
			return
		}
		fmt.Fprintf(w, "ip=%s xff=%q xfp=%s real=%q fwd=%q", instanceIP(r), r.Header.Values("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"),
			r.Header.Get("X-Real-Ip"), r.Header.Get("Forwarded"))
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// edgeListening starts the router on its own listener (PROXY protocol included) and
// returns its address.
func edgeListening(t *testing.T, trusted string) string {
	prefixes, err := ParseTrustedProxies(trusted)
	if err != nil {
		t.Fatal(err)
	}
	r := New(&routes{rs: []lifecycle.Route{{Slug: "acme", ID: "in1", State: lifecycle.Active, Upstream: addressEcho(t, "in1")}}},
		Options{BaseDomain: "sproud.test", TrustedProxies: prefixes})
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(r)
	srv.Listener = r.Listener(srv.Listener)
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// send writes prefix (a PROXY header, or nothing) and one request with the given extra
// header lines on a new connection from 127.0.0.1, and returns the answer's body.
func send(t *testing.T, edge string, prefix func(net.Conn), headers ...string) string {
	t.Helper()
	conn, err := net.Dial("tcp", edge)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if prefix != nil {
		prefix(conn)
	}
	fmt.Fprintf(conn, "GET /who HTTP/1.1\r\nHost: acme.sproud.test\r\n%sConnection: close\r\n\r\n", strings.Join(headers, ""))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	return string(b)
}

func proxyV1(src string) func(net.Conn) {
	return func(c net.Conn) { fmt.Fprintf(c, "PROXY TCP4 %s 127.0.0.1 40000 443\r\n", src) }
}

func proxyV2(src string) func(net.Conn) {
	return func(c net.Conn) {
		h := &proxyproto.Header{Version: 2, Command: proxyproto.PROXY, TransportProtocol: proxyproto.TCPv4,
			SourceAddr: &net.TCPAddr{IP: net.ParseIP(src), Port: 40000}, DestinationAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 443}}
		if _, err := h.WriteTo(c); err != nil {
			panic(err)
		}
	}
}

// TestTrustedProxyTellsTheVisitorsAddress: from a trusted proxy the instance reads the
// address the proxy reports (X-Forwarded-For, PROXY v1, PROXY v2), never one the
// visitor wrote into X-Forwarded-For themselves.
func TestTrustedProxyTellsTheVisitorsAddress(t *testing.T) {
	edge := edgeListening(t, "127.0.0.1/32, 10.0.0.0/8")
	cases := []struct {
		name    string
		prefix  func(net.Conn)
		headers []string
		want    string
	}{
		{"X-Forwarded-For", nil, []string{"X-Forwarded-For: 203.0.113.7\r\n"}, "ip=203.0.113.7"},
		{"visitor's own X-Forwarded-For left of it", nil, []string{"X-Forwarded-For: 198.51.100.66, 203.0.113.7\r\n"}, "ip=203.0.113.7"},
		{"chain of trusted proxies", nil, []string{"X-Forwarded-For: 198.51.100.66\r\n", "X-Forwarded-For: 203.0.113.7, 10.1.2.3\r\n"}, "ip=203.0.113.7"},
		{"visitor in a private network", nil, []string{"X-Forwarded-For: 192.168.7.8\r\n"}, "ip=192.168.7.8"},
		{"IPv6 visitor", nil, []string{"X-Forwarded-For: [2001:db8::7]:5000\r\n"}, "ip=2001:db8::7"},
		{"no header: the proxy itself", nil, nil, "ip=127.0.0.1"},
		{"PROXY v1", proxyV1("203.0.113.8"), nil, "ip=203.0.113.8"},
		{"PROXY v2", proxyV2("203.0.113.9"), nil, "ip=203.0.113.9"},
		// Behind PROXY the peer is the visitor: what they put in X-Forwarded-For is theirs.
		{"PROXY v2 and a spoofed X-Forwarded-For", proxyV2("203.0.113.9"), []string{"X-Forwarded-For: 198.51.100.66\r\n"}, "ip=203.0.113.9"},
		{"X-Forwarded-Proto from the TLS proxy", nil, []string{"X-Forwarded-For: 203.0.113.7\r\n", "X-Forwarded-Proto: https\r\n"}, "xfp=https"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := send(t, edge, tc.prefix, tc.headers...)
			if !strings.Contains(got, tc.want+" ") {
				t.Fatalf("the instance read %s; want %s", got, tc.want)
			}
			ip := strings.TrimPrefix(strings.Fields(got)[0], "ip=")
			if !strings.Contains(got, fmt.Sprintf("xff=[%q]", ip)) {
				t.Fatalf("the edge sent more than the one address: %s", got)
			}
		})
	}
}

// TestUntrustedPeerCannotSpoofItsAddress: a peer not in --trusted-proxies is the
// visitor, whatever it writes in X-Forwarded-For, X-Real-IP, Forwarded or a PROXY
// header (read and thrown away; the request is still served).
func TestUntrustedPeerCannotSpoofItsAddress(t *testing.T) {
	for _, trusted := range []string{"", "192.0.2.0/24"} {
		edge := edgeListening(t, trusted)
		type spoof struct {
			name    string
			prefix  func(net.Conn)
			headers []string
		}
		cases := []spoof{{"X-Forwarded-For", nil, []string{"X-Forwarded-For: 203.0.113.7\r\n", "X-Real-IP: 203.0.113.7\r\n",
			"Forwarded: for=203.0.113.7\r\n", "X-Forwarded-Proto: https\r\n"}}}
		if trusted != "" { // without trusted proxies the listener speaks no PROXY protocol at all
			cases = append(cases, spoof{"PROXY v1", proxyV1("203.0.113.8"), nil},
				spoof{"PROXY v2", proxyV2("203.0.113.9"), []string{"X-Forwarded-For: 203.0.113.7\r\n"}})
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("trusted=%q/%s", trusted, tc.name), func(t *testing.T) {
				got := send(t, edge, tc.prefix, tc.headers...)
				if want := `ip=127.0.0.1 xff=["127.0.0.1"] xfp=http real="" fwd=""`; got != want {
					t.Fatalf("the instance read %s; want %s", got, want)
				}
			})
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8,192.0.2.1 ,, 2001:db8::/32,::ffff:198.51.100.1, 172.16.5.4/12")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[10.0.0.0/8 192.0.2.1/32 2001:db8::/32 198.51.100.1/32 172.16.0.0/12]" {
		t.Fatalf("parsed %v", got)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "10.0.0.1-10.0.0.9", "fe80::1%eth0"} {
		if _, err := ParseTrustedProxies(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v, want an error naming it", bad, err)
		}
	}
}
