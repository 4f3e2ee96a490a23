package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/api"
	"github.com/sproudstack/sproudchat/controlplane/internal/backups"
	"github.com/sproudstack/sproudchat/controlplane/internal/control"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/metrics"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

type harness struct {
	t       *testing.T
	url     string
	store   *store.Store
	rt      *runtimetest.Fake
	server  *api.Server
	tokenUC *control.Tokens
	tokens  map[string]string // scope set → secret
	vault   *fakeVault
	clock   *clock.Fake
}

func newHarness(t *testing.T, d store.Dialect) *harness {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	db := storetest.MustOpen(t, d)
	rt := runtimetest.NewFake()
	h := serveAPI(t, db, rt, clk)
	for name, scopes := range map[string][]string{"admin": {"admin"}, "write": {"instances:read", "instances:write"}, "read": {"instances:read"}} {
		h.addToken(name, scopes...)
	}
	return h
}

// serveAPI serves the API over db and rt, wired as serve wires it, on an httptest
// server closed at the test's end.
func serveAPI(t *testing.T, db *store.DB, rt provisioning.Runtime, clk *clock.Fake) *harness {
	t.Helper()
	plans, err := template.LoadDir("../../../templates")
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secret.New(bytes.Repeat([]byte{1}, 32))
	st := store.New(db)
	specs := control.NewSpecs(st, control.SpecOptions{Box: box, Plans: plans, Version: "test", BaseDomain: "sproud.test"})
	tokens := control.NewTokens(st, clk)
	vault := &fakeVault{}
	bk := backups.New(backups.Options{Store: st, Vault: vault, Runtime: rt, Specs: specs, Clock: clk})
	m := metrics.New(st)
	m.WatchBackups(bk)
	srv := api.New(api.Options{Instances: control.New(st, control.Options{Clock: clk, Specs: specs, Backups: bk}), Tokens: tokens, Backups: bk,
		Webhooks: control.NewWebhooks(st, box, clk), GC: control.NewGC(st, rt, control.GCOptions{Clock: clk}), Database: db, Runtime: rt,
		Metrics: m.Handler(), Version: "test"})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	fake, _ := rt.(*runtimetest.Fake)
	return &harness{t: t, url: ts.URL, store: st, rt: fake, server: srv, tokenUC: tokens, tokens: map[string]string{}, vault: vault, clock: clk}
}

// addToken makes a token with scopes, known to the harness by name.
func (h *harness) addToken(name string, scopes ...string) {
	h.t.Helper()
	_, raw, err := h.tokenUC.Create(context.Background(), lifecycle.TokenRequest{Name: name, Scopes: scopes})
	if err != nil {
		h.t.Fatal(err)
	}
	h.tokens[name] = raw
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) call(token, method, path, contentType string, body []byte, hdr map[string]string) reply {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+h.tokens[token])
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

func (r reply) problem(t *testing.T) client.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q for %d: %s", ct, r.status, r.body)
	}
	var p client.Problem
	if err := json.Unmarshal(r.body, &p); err != nil || p.Status != r.status || p.Title == "" {
		t.Fatalf("malformed problem %s", r.body)
	}
	return p
}

const valid = `{"customer_id":"cus_1","slug":"acme","plan":"starter","admin_email":"ada@example.org"}`

func (h *harness) instanceCount() int {
	items, _, err := h.store.ListInstances(context.Background(), lifecycle.InstanceFilter{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	return len(items)
}

func TestBadInputChangesNothing(t *testing.T) {
	h := newHarness(t, store.SQLite)
	cases := []struct {
		name, token, method, path, ct, body string
		status                              int
		field                               string
	}{
		{"unknown plan", "write", "POST", "/v1/instances", "application/json", strings.Replace(valid, "starter", "platinum", 1), 422, "plan"},
		{"bad slug", "write", "POST", "/v1/instances", "application/json", strings.Replace(valid, "acme", "Acme_GmbH", 1), 422, "slug"},
		{"short slug", "write", "POST", "/v1/instances", "application/json", strings.Replace(valid, "acme", "ab", 1), 422, "slug"},
		{"reserved slug", "write", "POST", "/v1/instances", "application/json", strings.Replace(valid, "acme", "admin", 1), 422, "slug"},
		{"bad e-mail", "write", "POST", "/v1/instances", "application/json", strings.Replace(valid, "ada@example.org", "ada", 1), 422, "admin_email"},
		{"no customer", "write", "POST", "/v1/instances", "application/json", strings.Replace(valid, `"cus_1"`, `""`, 1), 422, "customer_id"},
		{"missing token", "", "POST", "/v1/instances", "application/json", valid, 401, ""},
		{"token without the scope", "read", "POST", "/v1/instances", "application/json", valid, 403, ""},
		{"destroy needs admin", "write", "DELETE", "/v1/instances/in1", "", "", 403, ""},
		{"malformed JSON", "write", "POST", "/v1/instances", "application/json", `{"slug":`, 400, ""},
		{"unknown field", "write", "POST", "/v1/instances", "application/json", strings.Replace(valid, "}", `,"vip":true}`, 1), 400, ""},
		{"not JSON", "write", "POST", "/v1/instances", "text/plain", valid, 415, ""},
		{"body over 1 MiB", "write", "POST", "/v1/instances", "application/json", `{"customer_id":"` + strings.Repeat("x", 1<<20) + `"}`, 413, ""},
		{"unknown instance", "read", "GET", "/v1/instances/in-nope", "", "", 404, ""},
		{"suspend unknown", "write", "POST", "/v1/instances/in-nope/suspend", "", "", 404, ""},
		{"bad list filter", "read", "GET", "/v1/instances?state=sleeping&limit=0", "", "", 422, "state"},
		{"bad token scopes", "admin", "POST", "/v1/tokens", "application/json", `{"name":"x","scopes":["root"]}`, 422, "scopes"},
		{"bad webhook URL", "admin", "POST", "/v1/webhooks", "application/json", `{"url":"ftp://billing"}`, 422, "url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call(tc.token, tc.method, tc.path, tc.ct, []byte(tc.body), nil)
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if p := r.problem(t); tc.field != "" && p.Errors[tc.field] == "" {
				t.Errorf("%+v names no error for %s", p, tc.field)
			}
		})
	}
	if n := h.instanceCount(); n != 0 {
		t.Fatalf("%d instances stored by bad requests", n)
	}
	if n := h.rt.Calls("Apply") + h.rt.Calls("Destroy"); n != 0 {
		t.Fatalf("%d runtime calls for bad requests", n)
	}
	// The valid request goes through: every case failed for its own flaw.
	if r := h.call("write", "POST", "/v1/instances", "application/json", []byte(valid), nil); r.status != 202 || r.header.Get("Location") == "" {
		t.Fatalf("valid create: %d %s", r.status, r.body)
	}
	if r := h.call("write", "POST", "/v1/instances", "application/json", []byte(valid), nil); r.status != 409 {
		t.Fatalf("second acme: %d %s", r.status, r.body)
	}
}

// TestIdempotencyUnderConcurrency: 20 concurrent creates with one key give one
// instance and 20 identical responses; 20 with different keys and one slug give one
// 202 and 19 conflicts.
func TestIdempotencyUnderConcurrency(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		h := newHarness(t, d)
		run := func(key func(int) string) []reply {
			out := make([]reply, 20)
			var wg sync.WaitGroup
			for i := range out {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					out[i] = h.call("write", "POST", "/v1/instances", "application/json", []byte(valid), map[string]string{"Idempotency-Key": key(i)})
				}(i)
			}
			wg.Wait()
			return out
		}
		same := run(func(int) string { return "order-4711" })
		for i, r := range same {
			if r.status != 202 || !bytes.Equal(r.body, same[0].body) {
				t.Fatalf("response %d: %d %s; want 202 and the same body as the first: %s", i, r.status, r.body, same[0].body)
			}
		}
		var inst client.Instance
		json.Unmarshal(same[0].body, &inst)
		if inst.SetupURL == "" || !strings.HasPrefix(inst.SetupURL, "http://acme.sproud.test/setup?token=") {
			t.Fatalf("create response without a setup link: %s", same[0].body)
		}
		if n := h.instanceCount(); n != 1 {
			t.Fatalf("%d instances for one key", n)
		}
		// The same key with another body is refused.
		other := strings.Replace(valid, "acme", "other", 1)
		if r := h.call("write", "POST", "/v1/instances", "application/json", []byte(other), map[string]string{"Idempotency-Key": "order-4711"}); r.status != 422 {
			t.Fatalf("same key, other body: %d %s", r.status, r.body)
		}
		// GET never shows the setup link again.
		if r := h.call("read", "GET", "/v1/instances/"+inst.ID, "", nil, nil); strings.Contains(string(r.body), "setup") {
			t.Fatalf("GET shows the setup link: %s", r.body)
		}

		slugRace := strings.Replace(valid, "acme", "contested", 1)
		counts := map[int]int{}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r := h.call("write", "POST", "/v1/instances", "application/json", []byte(slugRace), map[string]string{"Idempotency-Key": fmt.Sprintf("k-%d", i)})
				mu.Lock()
				counts[r.status]++
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		if counts[202] != 1 || counts[409] != 19 {
			t.Fatalf("statuses %v, want one 202 and 19 409", counts)
		}
	})
}

func TestOpenAPIListsExactlyTheRoutes(t *testing.T) {
	h := newHarness(t, store.SQLite)
	r := h.call("", "GET", "/v1/openapi.json", "", nil, nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json: %v %s", err, r.body[:min(200, len(r.body))])
	}
	inSpec := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			inSpec[strings.ToUpper(m)+" "+p] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range h.server.Routes() {
		served[rt.Method+" "+api.OpenAPIPath(rt.Path)] = true
	}
	// Walk what the server really answers: each route must not be a 404 or 405.
	for k := range served {
		method, path, _ := strings.Cut(k, " ")
		path = strings.ReplaceAll(path, "{id}", "1")
		if res := h.call("admin", method, path, "", nil, nil); res.status == 404 && !strings.Contains(string(res.body), "no such resource") || res.status == 405 {
			t.Errorf("%s is in the table but not served (%d)", k, res.status)
		}
		if !inSpec[k] {
			t.Errorf("%s is served but not in openapi.json", k)
		}
	}
	for k := range inSpec {
		if !served[k] {
			t.Errorf("%s is in openapi.json but not served", k)
		}
	}
}

func TestMetricsCountInstancesByState(t *testing.T) {
	h := newHarness(t, store.SQLite)
	h.call("write", "POST", "/v1/instances", "application/json", []byte(valid), nil)
	r := h.call("", "GET", "/metrics", "", nil, nil)
	if !strings.Contains(string(r.body), `sproudctl_instances{state="provisioning"} 1`) {
		t.Fatalf("metrics lack the instance count:\n%s", r.body)
	}
}

// TestRevokedTokenStopsWorking: a revoked token is refused at once, cache or not.
func TestRevokedTokenStopsWorking(t *testing.T) {
	h := newHarness(t, store.SQLite)
	if r := h.call("read", "GET", "/v1/plans", "", nil, nil); r.status != 200 {
		t.Fatalf("before revoke: %d", r.status)
	}
	ts, _ := h.store.ListTokens(context.Background())
	var id int64
	for _, tk := range ts {
		if tk.Name == "read" {
			id = tk.ID
		}
	}
	if r := h.call("admin", "DELETE", fmt.Sprintf("/v1/tokens/%d", id), "", nil, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := h.call("read", "GET", "/v1/plans", "", nil, nil); r.status != 401 {
		t.Fatalf("after revoke: %d, want 401", r.status)
	}
}
