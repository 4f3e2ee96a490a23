package requestid_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/platform/requestid"
)

func TestMiddleware(t *testing.T) {
	fresh := regexp.MustCompile(`^[0-9a-f]{16}$`)
	tests := []struct {
		name   string
		header string
		adopt  bool // the client's id is kept; else a fresh one is made
	}{
		{name: "sane id adopted", header: "edge-1.a_B", adopt: true},
		{name: "none given", header: ""},
		{name: "header injection refused", header: "x\r\nSet-Cookie: a=b"},
		{name: "too long refused", header: strings.Repeat("a", 65)},
		{name: "64 characters adopted", header: strings.Repeat("a", 64), adopt: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen string
			h := requestid.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = requestid.FromContext(r.Context())
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.header != "" {
				r.Header.Set(requestid.Header, tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if got := rec.Header().Get(requestid.Header); got != seen {
				t.Errorf("response header %q, handler saw %q", got, seen)
			}
			switch {
			case tc.adopt && seen != tc.header:
				t.Errorf("id %q, want the client's %q", seen, tc.header)
			case !tc.adopt && !fresh.MatchString(seen):
				t.Errorf("id %q, want a fresh one", seen)
			}
		})
	}
}

func TestNewIsFresh(t *testing.T) {
	if a, b := requestid.New(), requestid.New(); a == b {
		t.Errorf("two ids alike: %q", a)
	}
}

func TestFromContextWithoutID(t *testing.T) {
	if id := requestid.FromContext(t.Context()); id != "" {
		t.Errorf("id %q from a bare context", id)
	}
}
