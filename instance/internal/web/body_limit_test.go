package web

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// TestPublicRoutesTakeSmallBodies: a body of 100 KiB to a route anyone may call is
// refused with 413 before anything runs, whether it announces its length or not;
// a route for the logged-in still takes what its default of 1 MiB allows.
func TestPublicRoutesTakeSmallBodies(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	pad := strings.Repeat("x", 100<<10)
	cases := []struct {
		name, path, contentType, body string
		chunked                       bool
	}{
		{"login", "/api/v1/session", "application/json", `{"email":"agent@example.org","password":"` + pad + `"}`, false},
		{"login, length not announced", "/api/v1/session", "application/json", `{"email":"agent@example.org","password":"` + pad + `"}`, true},
		{"setup", "/api/v1/setup", "application/json", `{"token":"` + pad + `"}`, false},
		{"chat start", "/api/v1/chat/conversations", "application/json", `{"name":"` + pad + `"}`, false},
		{"chat offline, length not announced", "/api/v1/chat/offline", "application/json", `{"name":"S","email":"s@example.org","message":"` + pad + `"}`, true},
		{"contact form", "/contact", "application/x-www-form-urlencoded", contactForm("S", "s@example.org", "subject", pad, true).Encode(), false},
		{"login page", "/login", "application/x-www-form-urlencoded", url.Values{"email": {"agent@example.org"}, "password": {pad}}.Encode(), true},
	}
	before := h.counts()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequest("POST", h.http.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.9.0.%d", i))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r := response{status: res.StatusCode, header: res.Header, body: string(b)}
			if r.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d %s, want 413", r.status, r.body)
			}
			if strings.HasPrefix(tc.path, "/api/") {
				r.problem(t)
			}
		})
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("refused bodies changed the database: %v → %v", before, after)
	}
	admin := h.loggedIn(accounts.RoleAdmin)
	big := strings.Repeat("A help text that is long. ", 400_000/26)
	if r := admin.json("POST", "/api/v1/kb/articles", map[string]any{"title": "Long", "body": big, "language": "en"}); r.status != http.StatusCreated {
		t.Fatalf("a %d KiB article from an admin: %d %s", len(big)>>10, r.status, r.body)
	}
}

// stalledPost starts a POST of a wrong login to path on a raw connection and sends
// only the first bytes of its body, as a client that stalls; finish sends the rest and
// returns the status of the answer.
func stalledPost(t *testing.T, h *harness, path string) (finish func() int) {
	t.Helper()
	conn, err := net.Dial("tcp", h.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body := `{"email":"nobody@example.org","password":"wrong password"}`
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		path, h.http.Listener.Addr(), len(body), body[:10])
	return func() int {
		t.Helper()
		io.WriteString(conn, body[10:])
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("answer to the stalled post: %v", err)
		}
		res.Body.Close()
		return res.StatusCode
	}
}

// TestPublicBodiesAtOnceAreBounded: while as many public bodies as the instance
// receives at once are stalled, another public post is told to come back (503,
// Retry-After, problem+json) instead of holding one more buffer, and routes for the
// logged-in are not affected; once the stalled bodies arrive, posts are answered again.
func TestPublicBodiesAtOnceAreBounded(t *testing.T) {
	h := newHarness(t, harnessOptions{publicBodies: 2}, true)
	admin := h.loggedIn(accounts.RoleAdmin)
	probe := func() response {
		return h.client().do("POST", "/api/v1/chat/transcript", "application/json", strings.NewReader(`{"token":"no such token"}`), nil)
	}
	if r := probe(); r.status != http.StatusNotFound {
		t.Fatalf("probe: %d %s, want 404", r.status, r.body)
	}
	finish := []func() int{stalledPost(t, h, "/api/v1/session"), stalledPost(t, h, "/api/v1/session")}
	var busy response
	h.waitFor(t, "the stalled bodies to hold every slot", func() bool {
		busy = probe()
		return busy.status == http.StatusServiceUnavailable
	})
	if p := busy.problem(t); !strings.HasSuffix(p.Type, "/busy") || busy.header.Get("Retry-After") != "1" || !strings.Contains(p.Detail, "at once") {
		t.Fatalf("busy answer: %+v, Retry-After %q", p, busy.header.Get("Retry-After"))
	}
	if r := admin.json("PATCH", "/api/v1/me", map[string]string{"name": "Ada A."}); r.status != http.StatusOK {
		t.Fatalf("a logged-in change while public bodies are stalled: %d %s", r.status, r.body)
	}
	if got := [2]int{finish[0](), finish[1]()}; got != [2]int{http.StatusUnauthorized, http.StatusUnauthorized} {
		t.Fatalf("the stalled logins, once sent: %v, want 401 twice", got)
	}
	for i := range 5 { // the slots were given back
		if r := probe(); r.status != http.StatusNotFound {
			t.Fatalf("probe %d after the stalled bodies arrived: %d %s", i, r.status, r.body)
		}
	}
	if strings.Contains(h.logs.String(), "request failed") {
		t.Error("a busy answer was logged as a failure")
	}
}
