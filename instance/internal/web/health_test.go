package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestHealthzAnswersInstanceID: the edge router checks this header on every new
// connection; a lone instance (no id) sends none.
func TestHealthzAnswersInstanceID(t *testing.T) {
	base, _ := url.Parse("http://acme.sproud.test")
	for id, want := range map[string][]string{"in-0a1b2c": {"in-0a1b2c"}, "": nil} {
		s, err := New(Options{BaseURL: base, InstanceID: id})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if got := rec.Header().Values(InstanceHeader); rec.Code != 200 || len(got) != len(want) || len(want) == 1 && got[0] != want[0] {
			t.Errorf("id %q: %d %s: %v, want %v", id, rec.Code, InstanceHeader, got, want)
		}
	}
}
