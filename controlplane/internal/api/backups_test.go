package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
)

// fakeVault stands in for the backup target under the real backups service: the API
// never streams a backup itself; purge is what it reaches.
type fakeVault struct {
	mu     sync.Mutex
	purged []string
}

var errNoVault = errors.New("fake vault: not in these tests")

func (v *fakeVault) Known(context.Context, string, string) ([]string, error) { return nil, errNoVault }
func (v *fakeVault) Write(context.Context, vault.Source, string, string, io.Reader) (vault.Result, error) {
	return vault.Result{}, errNoVault
}
func (v *fakeVault) Manifest(context.Context, string, string) (vault.Manifest, error) {
	return vault.Manifest{}, errNoVault
}
func (v *fakeVault) Read(context.Context, string, string, io.Writer) (vault.Manifest, error) {
	return vault.Manifest{}, errNoVault
}
func (v *fakeVault) Delete(context.Context, string, string) error { return errNoVault }
func (v *fakeVault) Collect(context.Context, string) (int, int64, error) {
	return 0, 0, errNoVault
}
func (v *fakeVault) Purge(_ context.Context, id string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.purged = append(v.purged, id)
	return nil
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

// activate makes an instance active, as the reconciler would.
func (h *harness) activate(id string) {
	h.t.Helper()
	_, err := h.store.Change(context.Background(), id, func(i *lifecycle.Instance) (lifecycle.Event, error) {
		i.State = lifecycle.Active
		return lifecycle.Event{InstanceID: id, Type: lifecycle.EventActivated, At: h.clock.Now(), ToState: lifecycle.Active}, nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

var backupSeq int

// addBackup records a backup of id in state st, as the worker would leave it.
func (h *harness) addBackup(id string, st lifecycle.BackupState) string {
	h.t.Helper()
	backupSeq++
	now := h.clock.Now()
	b := lifecycle.Backup{ID: fmt.Sprintf("bk%019x", backupSeq), InstanceID: id, State: st, Trigger: lifecycle.TriggerSchedule,
		CreatedAt: now, ExpiresAt: now.AddDate(0, 0, 30), NextAttempt: now, SizeBytes: 1 << 20, AddedBytes: 4096}
	if st == lifecycle.BackupCompleted {
		b.CompletedAt = &now
	}
	if err := h.store.CreateBackup(context.Background(), b, lifecycle.Event{}); err != nil {
		h.t.Fatal(err)
	}
	return b.ID
}

// backupState is everything a backup request could change: each instance's state and
// restore fields, its backups, what the vault was asked to purge.
func (h *harness) backupState() string {
	h.t.Helper()
	ctx := context.Background()
	items, _, err := h.store.ListInstances(ctx, lifecycle.InstanceFilter{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, i := range items {
		bs, err := h.store.ListBackups(ctx, i.ID)
		if err != nil {
			h.t.Fatal(err)
		}
		b, _ := json.Marshal(bs)
		out = append(out, fmt.Sprintf("%s %s %s %q %s", i.ID, i.State, i.Desired, i.RestoreBackupID, b))
	}
	h.vault.mu.Lock()
	out = append(out, fmt.Sprint("purged ", h.vault.purged))
	h.vault.mu.Unlock()
	return strings.Join(out, "\n")
}

// TestEveryRouteRefusesWithoutItsScope walks the route table: every route that needs a
// scope answers 401 without a token and 403 to every token that lacks its scope, as
// problem+json, and none of them changes anything.
func TestEveryRouteRefusesWithoutItsScope(t *testing.T) {
	h := newHarness(t, store.SQLite)
	h.addToken("writeonly", "instances:write")
	id := h.createInstance("scoped")
	h.activate(id)
	bk := h.addBackup(id, lifecycle.BackupCompleted)
	lacking := map[api.Scope][]string{
		api.Read:  {"writeonly"},
		api.Write: {"read"},
		api.Admin: {"read", "write", "writeonly"},
	}
	before := h.backupState()
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
				body, ct = []byte(`{"backup_id":"`+bk+`"}`), "application/json"
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
	if after := h.backupState(); after != before {
		t.Errorf("refused requests changed something:\n%s\n→\n%s", before, after)
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
		"POST /v1/backups/drills":          api.Admin,
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

// TestBackupBadInputChangesNothing: each bad request is refused with its status and,
// for a bad field, a problem naming it; none changes an instance, a backup or the
// target. Then the good request goes through, so each refusal was for its own flaw.
func TestBackupBadInputChangesNothing(t *testing.T) {
	h := newHarness(t, store.SQLite)
	a, b, fresh := h.createInstance("alpha"), h.createInstance("bravo"), h.createInstance("fresh")
	h.activate(a)
	h.activate(b)
	own := h.addBackup(a, lifecycle.BackupCompleted)
	pending := h.addBackup(a, lifecycle.BackupPending)
	foreign := h.addBackup(b, lifecycle.BackupCompleted)
	before := h.backupState()
	restore := "/v1/instances/" + a + "/restore"
	body := func(id string) string { return `{"backup_id":"` + id + `"}` }
	cases := []struct {
		name, token, method, path, ct, body string
		status                              int
		field                               string
	}{
		{"restore without backup_id", "admin", "POST", restore, "application/json", `{}`, 422, "backup_id"},
		{"restore with a blank backup_id", "admin", "POST", restore, "application/json", body("  "), 422, "backup_id"},
		{"restore with a malformed backup_id", "admin", "POST", restore, "application/json", body("../../etc"), 422, "backup_id"},
		{"restore of another instance's backup", "admin", "POST", restore, "application/json", body(foreign), 422, "backup_id"},
		{"restore of an unknown backup", "admin", "POST", restore, "application/json", body("bk0000000000000000999"), 422, "backup_id"},
		{"restore of a backup not completed", "admin", "POST", restore, "application/json", body(pending), 409, ""},
		{"restore of an instance not settled", "admin", "POST", "/v1/instances/" + fresh + "/restore", "application/json", body(own), 422, "backup_id"},
		{"restore without a body", "admin", "POST", restore, "", "", 415, ""},
		{"restore with malformed JSON", "admin", "POST", restore, "application/json", `{"backup_id":`, 400, ""},
		{"restore with an unknown field", "admin", "POST", restore, "application/json", `{"backup_id":"` + own + `","force":true}`, 400, ""},
		{"restore of an unknown instance", "admin", "POST", "/v1/instances/in-nope/restore", "application/json", body(own), 404, ""},
		{"backup of an unknown instance", "write", "POST", "/v1/instances/in-nope/backups", "", "", 404, ""},
		{"backup of an instance with no data yet", "write", "POST", "/v1/instances/" + fresh + "/backups", "", "", 409, ""},
		{"list of an unknown instance", "read", "GET", "/v1/instances/in-nope/backups", "", "", 404, ""},
		{"purge of an unknown instance", "admin", "DELETE", "/v1/instances/in-nope/backups", "", "", 404, ""},
		{"drills with a bad limit", "read", "GET", "/v1/backups/drills?limit=0", "", "", 422, "limit"},
		{"drills with a limit too high", "read", "GET", "/v1/backups/drills?limit=501", "", "", 422, "limit"},
		{"drills of an unknown instance", "read", "GET", "/v1/backups/drills?instance_id=in-nope", "", "", 404, ""},
		{"drill without instance_id", "admin", "POST", "/v1/backups/drills", "application/json", `{}`, 422, "instance_id"},
		{"drill of an unknown instance", "admin", "POST", "/v1/backups/drills", "application/json", `{"instance_id":"in-nope"}`, 404, ""},
		{"drill of an instance without a completed backup", "admin", "POST", "/v1/backups/drills", "application/json", `{"instance_id":"` + fresh + `"}`, 409, ""},
		{"create from a malformed backup id", "write", "POST", "/v1/instances", "application/json", strings.Replace(valid, `"acme"`, `"charlie","restore_from":"x"`, 1), 422, "restore_from"},
		{"create from an unknown backup", "write", "POST", "/v1/instances", "application/json", strings.Replace(valid, `"acme"`, `"charlie","restore_from":"bk0000000000000000999"`, 1), 422, "restore_from"},
		{"create from a backup not completed", "write", "POST", "/v1/instances", "application/json", strings.Replace(valid, `"acme"`, `"charlie","restore_from":"`+pending+`"`, 1), 422, "restore_from"},
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
	if after := h.backupState(); after != before {
		t.Errorf("bad requests changed something:\n%s\n→\n%s", before, after)
	}
	r := h.call("admin", "POST", restore, "application/json", []byte(body(own)), nil)
	var got client.Instance
	if err := json.Unmarshal(r.body, &got); err != nil || r.status != 202 || got.State != "restoring" || got.ID != a {
		t.Fatalf("restore of its own backup: %d %s", r.status, r.body)
	}
	if inst, _ := h.store.FindInstance(context.Background(), a); inst.RestoreBackupID != own {
		t.Errorf("restoring %q, want %s", inst.RestoreBackupID, own)
	}
}

// TestBackupRoutes: each route answers its documented status and body.
func TestBackupRoutes(t *testing.T) {
	h := newHarness(t, store.SQLite)
	id := h.createInstance("delta")
	h.activate(id)
	r := h.call("write", "POST", "/v1/instances/"+id+"/backups", "", nil, nil)
	var b client.Backup
	if err := json.Unmarshal(r.body, &b); err != nil || r.status != 202 || b.InstanceID != id || b.State != "pending" || b.Trigger != "manual" ||
		r.header.Get("Location") != "/v1/instances/"+id+"/backups" {
		t.Fatalf("create backup: %d %v %s", r.status, r.header, r.body)
	}
	if want := h.clock.Now().AddDate(0, 0, 90); !b.ExpiresAt.Equal(want) {
		t.Errorf("expires %s, want the starter plan's 90 days: %s", b.ExpiresAt, want)
	}
	h.clock.Advance(time.Hour)
	done := h.addBackup(id, lifecycle.BackupCompleted)
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
	if got := list.Items[0]; got.ID != done || got.State != "completed" || got.SizeBytes != 1<<20 || got.CompletedAt == nil {
		t.Errorf("newest first, completed: %+v", list.Items)
	}
	r = h.call("read", "GET", "/v1/backups/drills?instance_id="+id+"&limit=5", "", nil, nil)
	if r.status != 200 || string(r.body) != "{\"items\":[]}\n" {
		t.Fatalf("drills: %d %s", r.status, r.body)
	}
	// Nothing completed for 36 hours: stale.
	r = h.call("read", "GET", "/v1/backups/stale", "", nil, nil)
	if r.status != 200 || strings.Contains(string(r.body), id) {
		t.Fatalf("stale before 36 h: %d %s", r.status, r.body)
	}
	h.clock.Advance(lifecycle.StaleAfter)
	r = h.call("read", "GET", "/v1/backups/stale", "", nil, nil)
	var stale client.StaleList
	if err := json.Unmarshal(r.body, &stale); err != nil || r.status != 200 || len(stale.Items) != 1 || stale.Items[0].InstanceID != id ||
		stale.Items[0].Slug != "delta" || stale.Items[0].LastSuccess == nil {
		t.Fatalf("stale after 36 h: %d %s", r.status, r.body)
	}
	r = h.call("admin", "DELETE", "/v1/instances/"+id+"/backups", "", nil, nil)
	var purged client.Purged
	if err := json.Unmarshal(r.body, &purged); err != nil || r.status != 200 || purged != (client.Purged{InstanceID: id, Deleted: 2}) {
		t.Fatalf("purge: %d %s", r.status, r.body)
	}
	if !slices.Equal(h.vault.purged, []string{id}) {
		t.Errorf("vault purged %v, want %s", h.vault.purged, id)
	}
	if r := h.call("read", "GET", "/v1/instances/"+id+"/backups", "", nil, nil); string(r.body) != "{\"items\":[]}\n" {
		t.Errorf("after purge: %s", r.body)
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
			switch rt.Request.(type) {
			case client.Restore:
				body = `{"backup_id":"bk0000000000000000001"}`
			case client.StartDrill:
				body = `{"instance_id":"in-1"}`
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

// TestBackupMetrics: /metrics shows, per instance, when its last backup completed and
// what its backups take, and how many instances are stale, from the store.
func TestBackupMetrics(t *testing.T) {
	h := newHarness(t, store.SQLite)
	a, b := h.createInstance("echo"), h.createInstance("foxtrot")
	h.activate(a)
	h.activate(b)
	h.addBackup(a, lifecycle.BackupCompleted)
	at := h.clock.Now()
	h.clock.Advance(lifecycle.StaleAfter + time.Minute)
	r := h.call("", "GET", "/metrics", "", nil, nil)
	for _, want := range []string{
		fmt.Sprintf(`sproudctl_backup_last_success_timestamp_seconds{instance=%q} %g`, a, float64(at.Unix())),
		fmt.Sprintf(`sproudctl_backup_last_success_timestamp_seconds{instance=%q} 0`, b),
		fmt.Sprintf(`sproudctl_backup_stored_bytes{instance=%q} %g`, a, float64(1<<20)),
		fmt.Sprintf(`sproudctl_backup_stored_bytes{instance=%q} 0`, b),
		"sproudctl_backup_stale_instances 2",
	} {
		if !strings.Contains(string(r.body), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(string(r.body), "sproudctl_backup_drill_success{") {
		t.Errorf("a drill result is shown before any drill ran")
	}
}
