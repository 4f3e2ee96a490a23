package api_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
)

// TestOptionalBodyMayBeEmpty: suspend, resume and destroy take an optional body. An
// empty one is no body whatever the headers say (billing clients send Content-Type:
// application/json on every request); a non-empty one must still be a valid object.
func TestOptionalBodyMayBeEmpty(t *testing.T) {
	h := newHarness(t, store.SQLite)
	n := 0
	create := func() string {
		t.Helper()
		n++
		slug := fmt.Sprintf("body-%d", n)
		r := h.call("admin", "POST", "/v1/instances", "application/json",
			[]byte(`{"customer_id":"cus_1","slug":"`+slug+`","plan":"starter","admin_email":"ada@example.org"}`), nil)
		var inst client.Instance
		if err := json.Unmarshal(r.body, &inst); err != nil || r.status != 202 {
			t.Fatalf("create %s: %d %s", slug, r.status, r.body)
		}
		return inst.ID
	}
	for _, action := range []struct{ name, method, suffix string }{
		{"suspend", "POST", "/suspend"},
		{"resume", "POST", "/resume"},
		{"destroy", "DELETE", ""},
	} {
		t.Run(action.name, func(t *testing.T) {
			for _, tc := range []struct {
				name, ct, body string
				status         int
			}{
				{"empty body, JSON content type", "application/json", "", 202},
				{"empty body, JSON content type with charset", "application/json; charset=utf-8", "", 202},
				{"only white space", "application/json", " \r\n", 202},
				{"empty body, another content type", "text/plain", "", 202},
				{"no body, no content type", "", "", 202},
				{"a reason", "application/json", `{"reason":"asked by billing"}`, 202},
				{"malformed JSON", "application/json", `{"reason":`, 400},
				{"not an object", "application/json", `"overdue"`, 400},
				{"unknown field", "application/json", `{"why":"overdue"}`, 400},
				{"not JSON", "text/plain", `reason=overdue`, 415},
			} {
				t.Run(tc.name, func(t *testing.T) {
					id := create()
					r := h.call("admin", action.method, "/v1/instances/"+id+action.suffix, tc.ct, []byte(tc.body), nil)
					if r.status != tc.status {
						t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
					}
					if tc.status >= 400 {
						r.problem(t)
					}
				})
			}
		})
	}
}
