package apiclient_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/platform/testkit/apiclient"
)

// instance is the smallest stand-in for an instance's session API: a login sets a
// cookie and answers a CSRF token; a change needs both.
func instance(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/session", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "json", http.StatusUnsupportedMediaType)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "session-1"})
		json.NewEncoder(w).Encode(map[string]string{"csrf_token": "csrf-1"})
	})
	mux.HandleFunc("POST /api/v1/tickets", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("s")
		if err != nil || c.Value != "session-1" || r.Header.Get("X-CSRF-Token") != "csrf-1" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"id": 7})
	})
	mux.HandleFunc("GET /elsewhere", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/login", http.StatusSeeOther) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestSessionCarriesCookieAndCSRF(t *testing.T) {
	srv := instance(t)
	c := apiclient.New(t, srv.URL, apiclient.Options{})
	if code, _ := c.Call("POST", "/api/v1/tickets", map[string]string{"subject": "x"}); code != http.StatusForbidden {
		t.Fatalf("before login: %d, want 403", code)
	}
	c.Login("ada@example.org", "pw")
	out := c.Must("POST", "/api/v1/tickets", map[string]string{"subject": "x"}, http.StatusCreated)
	if diff := cmp.Diff(map[string]any{"id": 7.0}, out); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	c := apiclient.New(t, instance(t).URL, apiclient.Options{})
	if code, out := c.Call("GET", "/elsewhere", nil); code != http.StatusSeeOther || out != nil {
		t.Errorf("GET /elsewhere: %d %v, want 303 and no object", code, out)
	}
}
