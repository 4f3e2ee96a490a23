package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/api"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// fakeBackups is the backup use cases over the real store's instances, with the rules
// the API relies on: unknown instance → not found; restore only of a completed backup
// of the same instance.
type fakeBackups struct {
	st  *store.Store
	clk clock.Clock

	mu       sync.Mutex
	backups  map[string][]lifecycle.Backup // by instance, oldest first
	restored []string                      // instance/backup of each accepted restore
	purged   []string
	n        int
}

func newFakeBackups(st *store.Store, clk clock.Clock) *fakeBackups {
	return &fakeBackups{st: st, clk: clk, backups: map[string][]lifecycle.Backup{}}
}

func (f *fakeBackups) Create(ctx context.Context, id, _ string) (lifecycle.Backup, error) {
	if _, err := f.st.FindInstance(ctx, id); err != nil {
		return lifecycle.Backup{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	now := f.clk.Now()
	b := lifecycle.Backup{ID: fmt.Sprintf("bk-%d", f.n), InstanceID: id, State: lifecycle.BackupPending, Trigger: lifecycle.TriggerManual,
		CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour), NextAttempt: now}
	f.backups[id] = append(f.backups[id], b)
	return b, nil
}

// complete marks every backup of id completed, as the worker would.
func (f *fakeBackups) complete(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.backups[id] {
		b := &f.backups[id][i]
		at := b.CreatedAt.Add(time.Minute)
		b.State, b.CompletedAt, b.SizeBytes, b.AddedBytes = lifecycle.BackupCompleted, &at, 1<<20, 4096
	}
}

func (f *fakeBackups) List(ctx context.Context, id string) ([]lifecycle.Backup, error) {
	if _, err := f.st.FindInstance(ctx, id); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.backups[id])
	slices.Reverse(out)
	return out, nil
}

func (f *fakeBackups) Restore(ctx context.Context, id, backupID, _ string) (lifecycle.Instance, error) {
	inst, err := f.st.FindInstance(ctx, id)
	if err != nil {
		return inst, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.ContainsFunc(f.backups[id], func(b lifecycle.Backup) bool { return b.ID == backupID && b.State == lifecycle.BackupCompleted }) {
		return inst, &lifecycle.ValidationError{Fields: map[string]string{"backup_id": "is not a completed backup of this instance"}}
	}
	f.restored = append(f.restored, id+"/"+backupID)
	inst.State = lifecycle.Restoring
	return inst, nil
}

func (f *fakeBackups) Purge(ctx context.Context, id, _ string) (int, error) {
	if _, err := f.st.FindInstance(ctx, id); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.backups[id])
	delete(f.backups, id)
	f.purged = append(f.purged, id)
	return n, nil
}

func (f *fakeBackups) Drills(_ context.Context, id string, limit int) ([]lifecycle.Drill, error) {
	at := f.clk.Now()
	ds := []lifecycle.Drill{{ID: "dr-1", InstanceID: "in-a", BackupID: "bk-1", StartedAt: at, FinishedAt: &at, OK: true, Tables: 12, Rows: 3400, Blobs: 7}}
	ds = slices.DeleteFunc(ds, func(d lifecycle.Drill) bool { return id != "" && d.InstanceID != id })
	return ds[:min(limit, len(ds))], nil
}

func (f *fakeBackups) Stale(context.Context) ([]api.StaleInstance, error) {
	return []api.StaleInstance{{InstanceID: "in-b", Slug: "beta"}}, nil
}

// state is what the fake holds, to show that a refused request changed nothing.
func (f *fakeBackups) state() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(struct {
		B       map[string][]lifecycle.Backup
		R, P    []string
		Created int
	}{f.backups, f.restored, f.purged, f.n})
	return string(b)
}

// createInstance makes an instance through the API and returns its id.
func (h *harness) createInstance(slug string) string {
	h.t.Helper()
	r := h.call("admin", "POST", "/v1/instances", "application/json", []byte(strings.Replace(valid, "acme", slug, 1)), nil)
	var inst client.Instance
	if err := json.Unmarshal(r.body, &inst); err != nil || r.status != 202 {
		h.t.Fatalf("create %s: %d %s", slug, r.status, r.body)
	}
	return inst.ID
}

// TestEveryRouteRefusesWithoutItsScope walks the route table: every route that needs a
// scope answers 401 without a token and 403 to every token that lacks its scope, as
// problem+json, and none of them reaches a use case.
func TestEveryRouteRefusesWithoutItsScope(t *testing.T) {
	h := newHarness(t, store.SQLite)
	h.addToken("writeonly", "instances:write")
	id := h.createInstance("scoped")
	lacking := map[api.Scope][]string{
		api.Read:  {"writeonly"},
		api.Write: {"read"},
		api.Admin: {"read", "write", "writeonly"},
	}
	before, instances := h.backups.state(), h.instanceCount()
	seen := map[string]bool{}
	for _, rt := range h.server.Routes() {
		if rt.Scope == api.Public {
			continue
		}
		path := strings.ReplaceAll(rt.Path, ":id", id)
		seen[rt.Method+" "+rt.Path] = true
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			body, ct := []byte(nil), ""
			if rt.Request != nil {
				body, ct = []byte(`{}`), "application/json"
			}
			if r := h.call("", rt.Method, path, ct, body, nil); r.status != 401 {
				t.Errorf("no token: %d %s, want 401", r.status, r.body)
			} else {
				r.problem(t)
			}
			if len(lacking[rt.Scope]) == 0 {
				t.Fatalf("scope %q has no token that lacks it", rt.Scope)
			}
			for _, tok := range lacking[rt.Scope] {
				if r := h.call(tok, rt.Method, path, ct, body, nil); r.status != 403 {
					t.Errorf("token %s (lacks %s): %d %s, want 403", tok, rt.Scope, r.status, r.body)
				} else {
					r.problem(t)
				}
			}
		})
	}
	for _, want := range []string{"POST /v1/instances/:id/backups", "GET /v1/instances/:id/backups", "DELETE /v1/instances/:id/backups",
		"POST /v1/instances/:id/restore", "GET /v1/backups/drills", "GET /v1/backups/stale"} {
		if !seen[want] {
			t.Errorf("%s is not a guarded route", want)
		}
	}
	if after := h.backups.state(); after != before || h.instanceCount() != instances {
		t.Errorf("refused requests changed the backups:\n%s\n→\n%s", before, after)
	}
}

// TestBackupScopes pins which scope each backup route needs: billing (instances:write)
// may ask for a backup, only admin may restore or purge.
func TestBackupScopes(t *testing.T) {
	h := newHarness(t, store.SQLite)
	want := map[string]api.Scope{
		"POST /v1/instances/:id/backups":   api.Write,
		"GET /v1/instances/:id/backups":    api.Read,
		"DELETE /v1/instances/:id/backups": api.Admin,
		"POST /v1/instances/:id/restore":   api.Admin,
		"GET /v1/backups/drills":           api.Read,
		"GET /v1/backups/stale":            api.Read,
	}
	got := map[string]api.Scope{}
	for _, rt := range h.server.Routes() {
		if _, ok := want[rt.Method+" "+rt.Path]; ok {
			got[rt.Method+" "+rt.Path] = rt.Scope
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backup route scopes (-want +got):\n%s", diff)
	}
}

func TestBackupBadInputChangesNothing(t *testing.T) {
	h := newHarness(t, store.SQLite)
	a, b := h.createInstance("alpha"), h.createInstance("bravo")
	for _, id := range []string{a, b} {
		if r := h.call("write", "POST", "/v1/instances/"+id+"/backups", "", nil, nil); r.status != 202 {
			t.Fatalf("backup %s: %d %s", id, r.status, r.body)
		}
		h.backups.complete(id)
	}
	var bravo client.BackupList
	json.Unmarshal(h.call("read", "GET", "/v1/instances/"+b+"/backups", "", nil, nil).body, &bravo)
	if len(bravo.Items) != 1 {
		t.Fatalf("bravo's backups: %+v", bravo)
	}
	instances := h.instanceCount()
	before := h.backups.state()
	restore := "/v1/instances/" + a + "/restore"
	cases := []struct {
		name, token, method, path, ct, body string
		status                              int
		field                               string
	}{
		{"restore without backup_id", "admin", "POST", restore, "application/json", `{}`, 422, "backup_id"},
		{"restore with a blank backup_id", "admin", "POST", restore, "application/json", `{"backup_id":"  "}`, 422, "backup_id"},
		{"restore with an over-long backup_id", "admin", "POST", restore, "application/json", `{"backup_id":"` + strings.Repeat("b", 200) + `"}`, 422, "backup_id"},
		{"restore of another instance's backup", "admin", "POST", restore, "application/json", `{"backup_id":"` + bravo.Items[0].ID + `"}`, 422, "backup_id"},
		{"restore of an unknown backup", "admin", "POST", restore, "application/json", `{"backup_id":"bk-nope"}`, 422, "backup_id"},
		{"restore without a body", "admin", "POST", restore, "", "", 415, ""},
		{"restore with malformed JSON", "admin", "POST", restore, "application/json", `{"backup_id":`, 400, ""},
		{"restore with an unknown field", "admin", "POST", restore, "application/json", `{"backup_id":"bk-1","force":true}`, 400, ""},
		{"restore of an unknown instance", "admin", "POST", "/v1/instances/in-nope/restore", "application/json", `{"backup_id":"bk-1"}`, 404, ""},
		{"backup of an unknown instance", "write", "POST", "/v1/instances/in-nope/backups", "", "", 404, ""},
		{"list of an unknown instance", "read", "GET", "/v1/instances/in-nope/backups", "", "", 404, ""},
		{"purge of an unknown instance", "admin", "DELETE", "/v1/instances/in-nope/backups", "", "", 404, ""},
		{"drills with a bad limit", "read", "GET", "/v1/backups/drills?limit=0", "", "", 422, "limit"},
		{"drills with a limit too high", "read", "GET", "/v1/backups/drills?limit=501", "", "", 422, "limit"},
		{"create from an unknown backup", "write", "POST", "/v1/instances", "application/json", strings.Replace(valid, `"acme"`, `"charlie","restore_from":"bk-nope"`, 1), 422, "restore_from"},
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
	if after := h.backups.state(); after != before {
		t.Errorf("bad requests changed the backups:\n%s\n→\n%s", before, after)
	}
	if n := h.instanceCount(); n != instances {
		t.Errorf("%d instances after bad requests, %d before", n, instances)
	}
	inst, err := h.store.FindInstance(context.Background(), a)
	if err != nil || inst.State == lifecycle.Restoring {
		t.Errorf("alpha after refused restores: %v %v", inst.State, err)
	}
	// Its own backup restores: the refusals above were for their own flaw.
	var own client.BackupList
	json.Unmarshal(h.call("read", "GET", "/v1/instances/"+a+"/backups", "", nil, nil).body, &own)
	r := h.call("admin", "POST", restore, "application/json", []byte(`{"backup_id":"`+own.Items[0].ID+`"}`), nil)
	var got client.Instance
	if err := json.Unmarshal(r.body, &got); err != nil || r.status != 202 || got.State != "restoring" || got.ID != a {
		t.Fatalf("restore of its own backup: %d %s", r.status, r.body)
	}
}

// TestBackupRoutes: each route answers its documented status and body.
func TestBackupRoutes(t *testing.T) {
	h := newHarness(t, store.SQLite)
	id := h.createInstance("delta")
	r := h.call("write", "POST", "/v1/instances/"+id+"/backups", "", nil, nil)
	var b client.Backup
	if err := json.Unmarshal(r.body, &b); err != nil || r.status != 202 || b.InstanceID != id || b.State != "pending" || b.Trigger != "manual" ||
		r.header.Get("Location") != "/v1/instances/"+id+"/backups" {
		t.Fatalf("create backup: %d %v %s", r.status, r.header, r.body)
	}
	h.call("write", "POST", "/v1/instances/"+id+"/backups", "", nil, nil)
	h.backups.complete(id)
	r = h.call("read", "GET", "/v1/instances/"+id+"/backups", "", nil, nil)
	var list client.BackupList
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != 200 || len(list.Items) != 2 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	for _, field := range []string{"id", "instance_id", "state", "trigger", "created_at", "completed_at", "expires_at", "size_bytes", "added_bytes"} {
		if !strings.Contains(string(r.body), `"`+field+`":`) {
			t.Errorf("list items lack %s: %s", field, r.body)
		}
	}
	if list.Items[0].ID != "bk-2" || list.Items[0].State != "completed" || list.Items[0].SizeBytes != 1<<20 {
		t.Errorf("newest first, completed: %+v", list.Items)
	}
	r = h.call("read", "GET", "/v1/backups/drills?instance_id=in-a&limit=5", "", nil, nil)
	var drills client.DrillList
	if err := json.Unmarshal(r.body, &drills); err != nil || r.status != 200 || len(drills.Items) != 1 || !drills.Items[0].OK || drills.Items[0].Rows != 3400 {
		t.Fatalf("drills: %d %s", r.status, r.body)
	}
	r = h.call("read", "GET", "/v1/backups/stale", "", nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `{"instance_id":"in-b","slug":"beta","last_success":null}`) {
		t.Fatalf("stale: %d %s", r.status, r.body)
	}
	r = h.call("admin", "DELETE", "/v1/instances/"+id+"/backups", "", nil, nil)
	var purged client.Purged
	if err := json.Unmarshal(r.body, &purged); err != nil || r.status != 200 || purged != (client.Purged{InstanceID: id, Deleted: 2}) {
		t.Fatalf("purge: %d %s", r.status, r.body)
	}
}

// TestBackupRoutesWithoutBackups: a control plane without backups says so (503), it
// does not crash.
func TestBackupRoutesWithoutBackups(t *testing.T) {
	srv := api.New(api.Options{Tokens: allowAll{}})
	for _, rt := range srv.Routes() {
		if !strings.Contains(rt.Path, "backups") && !strings.HasSuffix(rt.Path, "/restore") {
			continue
		}
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			body := ""
			if rt.Request != nil {
				body = `{"backup_id":"bk-1"}`
			}
			r := serveOnce(t, srv, rt.Method, strings.ReplaceAll(rt.Path, ":id", "in-1"), body)
			if r.status != 503 || !strings.Contains(string(r.body), "keeps no backups") {
				t.Errorf("%d %s, want 503", r.status, r.body)
			}
		})
	}
}

// TestOpenAPIDocumentsTheBackupRoutes: the document names each backup operation with
// its scope and its body.
func TestOpenAPIDocumentsTheBackupRoutes(t *testing.T) {
	h := newHarness(t, store.SQLite)
	var doc struct {
		Paths map[string]map[string]struct {
			Security    []map[string][]string `json:"security"`
			RequestBody *struct {
				Required bool `json:"required"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(h.call("", "GET", "/v1/openapi.json", "", nil, nil).body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct{ method, path, scope string }{
		{"post", "/v1/instances/{id}/backups", "instances:write"},
		{"get", "/v1/instances/{id}/backups", "instances:read"},
		{"delete", "/v1/instances/{id}/backups", "admin"},
		{"post", "/v1/instances/{id}/restore", "admin"},
		{"get", "/v1/backups/drills", "instances:read"},
		{"get", "/v1/backups/stale", "instances:read"},
	} {
		o, ok := doc.Paths[op.path][op.method]
		if !ok {
			t.Errorf("%s %s is not documented", op.method, op.path)
			continue
		}
		if len(o.Security) != 1 || !slices.Equal(o.Security[0]["bearer"], []string{op.scope}) {
			t.Errorf("%s %s: security %v, want %s", op.method, op.path, o.Security, op.scope)
		}
	}
	if rb := doc.Paths["/v1/instances/{id}/restore"]["post"].RequestBody; rb == nil || !rb.Required {
		t.Errorf("restore's body is not documented as required")
	}
	if _, ok := doc.Components.Schemas["CreateInstance"].Properties["restore_from"]; !ok {
		t.Errorf("CreateInstance does not document restore_from")
	}
	for _, f := range []string{"id", "instance_id", "state", "created_at", "completed_at", "size_bytes", "added_bytes", "expires_at", "trigger", "last_error"} {
		if _, ok := doc.Components.Schemas["Backup"].Properties[f]; !ok {
			t.Errorf("Backup does not document %s", f)
		}
	}
}

// allowAll authenticates every token as admin.
type allowAll struct{}

func (allowAll) Authenticate(context.Context, string) (lifecycle.Token, error) {
	return lifecycle.Token{ID: 1, Name: "root", Scopes: []string{"admin"}}, nil
}
func (allowAll) Create(context.Context, lifecycle.TokenRequest) (lifecycle.Token, string, error) {
	return lifecycle.Token{}, "", nil
}
func (allowAll) List(context.Context) ([]lifecycle.Token, error) { return nil, nil }
func (allowAll) Revoke(context.Context, int64) error             { return nil }

// serveOnce sends one request to srv with an admin token, without a listener.
func serveOnce(t *testing.T, srv *api.Server, method, path, body string) reply {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer x")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	return reply{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}
