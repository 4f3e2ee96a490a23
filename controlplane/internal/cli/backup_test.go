package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/sproudstack/sproudchat/platform/testkit/golden"
)

// TestServeBackupFlags: the backup target defaults to a folder in the data dir, and
// recipients come from repeated flags, comma-separated lists and the environment.
func TestServeBackupFlags(t *testing.T) {
	other, _ := age.GenerateX25519Identity()
	cases := []struct {
		name       string
		env        map[string]string
		args       []string
		target     string
		recipients []string
	}{
		{"defaults", nil, []string{"--data-dir", "/srv/sproud ctl"}, "file:///srv/sproud%20ctl/backups", nil},
		{"file target", nil, []string{"--backup-target", "file:///var/backups/sproud"}, "file:///var/backups/sproud", nil},
		{"s3 target", nil, []string{"--backup-target", "s3://bkt/prod?endpoint=http://127.0.0.1:7070&region=us-east-1"},
			"s3://bkt/prod?endpoint=http://127.0.0.1:7070&region=us-east-1", nil},
		{"repeated recipients", nil, []string{"--data-dir", "/d", "--backup-recipient", testRecipient, "--backup-recipient", other.Recipient().String()},
			"file:///d/backups", []string{testRecipient, other.Recipient().String()}},
		{"comma-separated, duplicate dropped", nil, []string{"--data-dir", "/d", "--backup-recipient", testRecipient + ", " + testRecipient},
			"file:///d/backups", []string{testRecipient}},
		{"from the environment", map[string]string{"SPROUDCTL_BACKUP_RECIPIENT": testRecipient + "," + other.Recipient().String(),
			"SPROUDCTL_BACKUP_TARGET": "file:///b"}, []string{"--data-dir", "/d"}, "file:///b", []string{testRecipient, other.Recipient().String()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &serveFlags{}
			cmd := &cobra.Command{}
			f.addFlags(cmd)
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := envDefaults(cmd, func(k string) string { return tc.env[k] }); err != nil {
				t.Fatal(err)
			}
			c, err := f.config()
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			var got []string
			for _, r := range c.BackupRecipients {
				got = append(got, r.String())
			}
			if diff := cmp.Diff(tc.recipients, got); c.BackupTarget != tc.target || diff != "" {
				t.Errorf("target %q (want %q), recipients (-want +got):\n%s", c.BackupTarget, tc.target, diff)
			}
		})
	}
}

// TestSecretIdentityIsNeverEchoed: an identity given where a recipient belongs is
// refused without printing it.
func TestSecretIdentityIsNeverEchoed(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--backup-recipient", testIdentity},
		{"serve", "--backup-recipient", testRecipient + "," + strings.ToLower(testIdentity)},
	} {
		code, out, stderr := run(nil, args...)
		if code != 2 || strings.Contains(strings.ToLower(out+stderr), strings.ToLower(testIdentity[15:])) {
			t.Errorf("%v: exit %d, output %q %q", args, code, out, stderr)
		}
	}
}

// TestKeygen writes a new identity readable only by its owner, prints its recipient,
// and never overwrites a file.
func TestKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offline.key")
	code, out, stderr := run(map[string]string{"SPROUDCTL_OUTPUT": "json"}, "backup", "keygen", "-o", path)
	if code != 0 {
		t.Fatalf("keygen: exit %d %s", code, stderr)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v %v", fi, err)
	}
	raw, _ := os.ReadFile(path)
	f, _ := os.Open(path)
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil || len(ids) != 1 {
		t.Fatalf("identity file does not parse: %v\n%s", err, raw)
	}
	id := ids[0].(*age.X25519Identity)
	if strings.TrimSpace(out) != id.Recipient().String() || strings.Contains(out+stderr, id.String()) {
		t.Fatalf("stdout %q, want only the recipient %s; the identity must not be printed", out, id.Recipient())
	}
	if !strings.Contains(string(raw), "# public key: "+id.Recipient().String()) {
		t.Errorf("identity file lacks its public key comment:\n%s", raw)
	}
	// The output flag took no value from SPROUDCTL_OUTPUT: no file named "json".
	if _, err := os.Stat("json"); err == nil {
		os.Remove("json")
		t.Error("SPROUDCTL_OUTPUT=json named keygen's output file")
	}
	code, _, stderr = run(nil, "backup", "keygen", "-o", path)
	if again, _ := os.ReadFile(path); code != 2 || !strings.Contains(stderr, "never overwritten") || string(again) != string(raw) {
		t.Fatalf("keygen over an existing file: exit %d %q; file changed: %v", code, stderr, string(again) != string(raw))
	}
}

// cannedAPI answers the backup routes with fixed bodies and records each request.
type cannedAPI struct {
	mu       sync.Mutex
	requests []string
}

const (
	fixtureBackups = `{"items":[
 {"id":"bk-2","instance_id":"in-1","state":"completed","trigger":"manual","created_at":"2026-11-02T03:00:00Z","completed_at":"2026-11-02T03:01:30Z","expires_at":"2027-01-31T03:00:00Z","size_bytes":52428800,"added_bytes":20480},
 {"id":"bk-1","instance_id":"in-1","state":"failed","trigger":"schedule","created_at":"2026-11-01T03:00:00Z","completed_at":null,"expires_at":"2027-01-30T03:00:00Z","size_bytes":0,"added_bytes":0,"last_error":"target unavailable"}]}`
	fixtureInstance = `{"id":"in-1","customer_id":"cus_1","slug":"acme","plan":"starter","state":"restoring","desired_state":"active","url":"http://acme.localhost:8080","created_at":"2026-11-01T00:00:00Z","updated_at":"2026-11-02T00:00:00Z","suspended_at":null,"purge_after":null}`
)

func (a *cannedAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.requests = append(a.requests, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+string(body)))
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.Method + " " + r.URL.Path {
	case "POST /v1/instances/in-1/backups":
		w.WriteHeader(202)
		io.WriteString(w, `{"id":"bk-3","instance_id":"in-1","state":"pending","trigger":"manual","created_at":"2026-11-03T10:00:00Z","completed_at":null,"expires_at":"2027-02-01T10:00:00Z","size_bytes":0,"added_bytes":0}`)
	case "GET /v1/instances/in-1/backups":
		io.WriteString(w, fixtureBackups)
	case "DELETE /v1/instances/in-1/backups":
		io.WriteString(w, `{"instance_id":"in-1","deleted":2}`)
	case "POST /v1/instances/in-1/restore":
		w.WriteHeader(202)
		io.WriteString(w, fixtureInstance)
	case "GET /v1/backups/stale":
		io.WriteString(w, `{"items":[{"instance_id":"in-2","slug":"beta","last_success":null},{"instance_id":"in-3","slug":"gamma","last_success":"2026-10-30T03:00:00Z"}]}`)
	case "GET /v1/backups/drills":
		io.WriteString(w, `{"items":[{"id":"dr-2","instance_id":"in-1","backup_id":"bk-2","started_at":"2026-11-02T04:00:00Z","finished_at":"2026-11-02T04:02:00Z","ok":true,"tables":14,"rows":120345,"blobs":88},
 {"id":"dr-1","instance_id":"in-3","backup_id":"bk-9","started_at":"2026-11-02T04:00:00Z","finished_at":"2026-11-02T04:01:00Z","ok":false,"error":"row count of tickets: 10 in the manifest, 9 restored","tables":14,"rows":500,"blobs":0}]}`)
	default:
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(404)
		io.WriteString(w, `{"type":"about:blank","title":"Not Found","status":404,"detail":"no such resource"}`)
	}
}

// TestBackupOutputGolden pins what each backup command shows, as a table and as JSON,
// and what it asks the API.
func TestBackupOutputGolden(t *testing.T) {
	api := &cannedAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	env := map[string]string{"SPROUDCTL_SERVER": srv.URL, "SPROUDCTL_TOKEN": "spt_test"}
	cases := []struct {
		name    string
		args    []string
		request string
	}{
		{"create", []string{"backup", "create", "in-1"}, "POST /v1/instances/in-1/backups"},
		{"list", []string{"backup", "list", "in-1"}, "GET /v1/instances/in-1/backups"},
		{"list_stale", []string{"backup", "list", "--stale"}, "GET /v1/backups/stale"},
		{"restore", []string{"backup", "restore", "in-1", "bk-2", "--yes"}, `POST /v1/instances/in-1/restore {"backup_id":"bk-2"}`},
		{"purge", []string{"backup", "purge", "in-1", "--yes"}, "DELETE /v1/instances/in-1/backups"},
		{"drills", []string{"backup", "drills", "--instance", "in-1", "--limit", "10"}, "GET /v1/backups/drills?instance_id=in-1&limit=10"},
	}
	for _, tc := range cases {
		for _, format := range []string{"table", "json"} {
			t.Run(tc.name+"_"+format, func(t *testing.T) {
				api.mu.Lock()
				api.requests = nil
				api.mu.Unlock()
				code, out, stderr := run(env, append(tc.args, "-o", format)...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				if format == "json" && !json.Valid([]byte(out)) {
					t.Fatalf("-o json is not JSON: %s", out)
				}
				golden.AssertString(t, filepath.Join("testdata", "output", "backup_"+tc.name+"."+format+".golden"), out)
				if diff := cmp.Diff([]string{tc.request}, api.requests); diff != "" {
					t.Errorf("requests (-want +got):\n%s", diff)
				}
			})
		}
	}
	// An API error is one line and exit 1; an instance not found (a newcomer gives the
	// slug) says what names an instance.
	for _, args := range [][]string{{"backup", "list", "demo"}, {"backup", "create", "demo"}, {"instance", "get", "demo"}} {
		code, _, stderr := run(env, args...)
		if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "no such resource") ||
			!strings.Contains(stderr, "instance's id") {
			t.Errorf("%v of an unknown instance: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// TestInstanceCreateRestoreFrom: --restore-from is sent as restore_from.
func TestInstanceCreateRestoreFrom(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&got)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(202)
		io.WriteString(w, strings.Replace(fixtureInstance, "restoring", "provisioning", 1))
	}))
	defer srv.Close()
	code, _, stderr := run(nil, "instance", "create", "--server", srv.URL, "--token", "t", "--customer", "cus_1", "--slug", "acme2",
		"--admin-email", "ada@example.org", "--restore-from", "bk-2")
	if code != 0 || got["restore_from"] != "bk-2" || got["slug"] != "acme2" {
		t.Fatalf("exit %d %s; body %v", code, stderr, got)
	}
}

// TestBackupRestoreWaitReportsFailure: a restore that failed brings the instance back
// to its state with its old data; --wait says it failed (exit 1) instead of "active".
func TestBackupRestoreWaitReportsFailure(t *testing.T) {
	for _, tc := range []struct {
		lastError string
		code      int
	}{{"", 0}, {"restore: row count of tickets differs from the backup's", 1}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.Method == "POST" {
				w.WriteHeader(202)
				io.WriteString(w, fixtureInstance)
				return
			}
			back := strings.Replace(fixtureInstance, `"state":"restoring"`, `"state":"active"`, 1)
			if tc.lastError != "" {
				back = strings.Replace(back, `"url":`, `"last_error":"`+tc.lastError+`","url":`, 1)
			}
			io.WriteString(w, back)
		}))
		code, _, stderr := run(nil, "backup", "restore", "in-1", "bk-2", "--yes", "--wait", "--server", srv.URL, "--token", "t")
		srv.Close()
		if code != tc.code || tc.code == 1 && !strings.Contains(stderr, "failed and the previous data is back: "+tc.lastError) {
			t.Errorf("last error %q: exit %d, stderr %q; want exit %d", tc.lastError, code, stderr, tc.code)
		}
	}
}
