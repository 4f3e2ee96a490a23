package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, next, want string }{
		{"empty", "", "/"},
		{"root", "/", "/"},
		{"path", "/settings/users", "/settings/users"},
		{"path with query", "/inbox?c=12&tab=open", "/inbox?c=12&tab=open"},
		{"path with fragment", "/kb/refunds#top", "/kb/refunds#top"},
		{"encoded space in the path", "/kb/search%20term", "/"},
		{"encoded letter", "/tickets/%31", "/tickets/%31"},
		{"protocol-relative", "//evil.example", "/"},
		{"protocol-relative with path", "//evil.example/x", "/"},
		{"backslash", `/\evil.example`, "/"},
		{"backslashes", `\\evil.example`, "/"},
		{"backslash later", `/a\b`, "/"},
		{"tab", "/\t/evil.example", "/"},
		{"tab encoded", "/%09/evil.example", "/"},
		{"CR", "/\r/evil.example", "/"},
		{"LF", "/\n/evil.example", "/"},
		{"CRLF encoded", "/%0d%0a/evil.example", "/"},
		{"LF in the query", "/x?a=\nb", "/"},
		{"NUL", "/\x00/evil.example", "/"},
		{"DEL", "/\x7f/evil.example", "/"},
		{"encoded slash", "/%2Fevil.example", "/"},
		{"encoded backslash", "/%5Cevil.example", "/"},
		{"scheme", "https://evil.example", "/"},
		{"scheme without slashes", "https:evil.example", "/"},
		{"javascript", "javascript:alert(1)", "/"},
		{"no slash", "evil.example", "/"},
		{"leading space", " /x", "/"},
		{"no-break space", "/\u00a0/evil.example", "/"},
		{"ideographic space", "/\u3000/evil.example", "/"},
		{"line separator", "/\u2028/evil.example", "/"},
		{"zero width space", "/\u200b/evil.example", "/"},
		{"next line", "/\u0085/evil.example", "/"},
		{"invalid UTF-8", "/\xff/evil.example", "/"},
		{"umlaut", "/kb/über", "/kb/über"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := safeNext(tc.next); got != tc.want {
				t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
			}
		})
	}
}

// TestLoginFormRedirectStaysOnSite logs in through the form with a hostile next and
// reads the Location the browser would follow. The requests go through a bare
// transport: Go's client refuses to parse a Location holding a tab, a browser does not.
func TestLoginFormRedirectStaysOnSite(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	send := func(t *testing.T, method, path string, body url.Values, cookie string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, h.http.URL+path, strings.NewReader(body.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	var cookie string
	for _, tc := range []struct{ name, next, want string }{
		{"tab", "/\t/evil.example", "/"},
		{"backslash", `/\evil.example`, "/"},
		{"protocol-relative", "//evil.example", "/"},
		{"on site", "/inbox?c=1", "/inbox?c=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := send(t, "POST", "/login", url.Values{"email": {"agent@example.org"}, "password": {passwordOf("agent")}, "next": {tc.next}}, "")
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tc.want {
				t.Fatalf("login with next=%q: %d, Location %q, want %q", tc.next, res.StatusCode, res.Header.Get("Location"), tc.want)
			}
			for _, c := range res.Cookies() {
				cookie = c.Name + "=" + c.Value
			}
		})
	}
	// Already logged in, GET /login?next=/%09/evil.example redirects at once.
	res := send(t, "GET", "/login?next=/%09/evil.example", nil, cookie)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("GET /login?next=/%%09/evil.example when logged in: %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
}
