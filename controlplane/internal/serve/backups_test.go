package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sproudstack/sproudchat/controlplane/internal/control"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/platform/testkit/logbuf"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// toolsFake is the in-memory runtime with tools that do nothing: enough for the wiring.
type toolsFake struct{ *runtimetest.Fake }

func (toolsFake) RunTool(context.Context, provisioning.Spec, []string, io.Reader, io.Writer) error {
	return nil
}
func (toolsFake) StopApp(context.Context, string) error { return nil }

// runPlane runs the control plane until the test ends and returns its API address.
func runPlane(t *testing.T, cfg Config, rt provisioning.Runtime, log *logbuf.Buffer) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready, errc := make(chan string, 1), make(chan error, 1)
	go func() {
		errc <- Run(ctx, cfg, Options{Runtime: rt, Log: log, Ready: func(api, _ string) { ready <- api }})
	}()
	stop := func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v\n%s", err, log)
		}
		http.DefaultClient.CloseIdleConnections()
	}
	select {
	case api := <-ready:
		return api, stop
	case err := <-errc:
		cancel()
		t.Fatalf("Run: %v\n%s", err, log)
	}
	return "", nil
}

// logLines returns the log's lines with message msg, decoded.
func logLines(t *testing.T, log *logbuf.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// TestServeKeepsBackups: with a target, serve makes its backup identity once and keeps
// it sealed (the same recipient after a restart; no secret key in the log or in clear
// in the database), logs the recipients, serves the backup routes and metrics, and
// runs the backup worker, which stops with the rest.
func TestServeKeepsBackups(t *testing.T) {
	dir := t.TempDir()
	offline, _ := age.GenerateX25519Identity()
	key := bytes.Repeat([]byte{1}, 32)
	cfg := Config{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", BaseDomain: "sproud.test", DataDir: dir, Templates: "../../../templates",
		SecretKey: key, LeaseTTL: 30 * time.Second, AppVersion: "test", BackupTarget: "file://" + filepath.Join(dir, "backups"),
		BackupRecipients: []*age.X25519Recipient{offline.Recipient()}}
	token := bootstrapToken(t, dir, key)

	var recipients []string
	for run := range 2 {
		log := &logbuf.Buffer{}
		api, stop := runPlane(t, cfg, toolsFake{runtimetest.NewFake()}, log)
		req, _ := http.NewRequest("GET", "http://"+api+"/v1/backups/stale", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "{\"items\":[]}\n" {
			t.Errorf("run %d: GET /v1/backups/stale: %d %s", run, res.StatusCode, body)
		}
		res, err = http.Get("http://" + api + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(body), "sproudctl_backup_stale_instances 0\n") {
			t.Errorf("run %d: /metrics lacks the backup gauges", run)
		}
		stop()

		on := logLines(t, log, "backups on")
		if len(on) != 1 {
			t.Fatalf("run %d: %d \"backups on\" lines:\n%s", run, len(on), log)
		}
		recipients = append(recipients, on[0]["recipient"].(string))
		if off, _ := on[0]["offline_recipients"].([]any); len(off) != 1 || off[0] != offline.Recipient().String() {
			t.Errorf("run %d: offline recipients logged %v", run, on[0]["offline_recipients"])
		}
		if strings.Contains(log.String(), "AGE-SECRET-KEY") {
			t.Errorf("run %d: a secret key is in the log", run)
		}
		var stopped []string
		for _, l := range logLines(t, log, "worker stopped") {
			stopped = append(stopped, l["worker"].(string))
		}
		if !slices.Contains(stopped, "backups") || len(stopped) != 5 {
			t.Errorf("run %d: workers stopped %v, want five with backups", run, stopped)
		}
	}
	if _, err := age.ParseX25519Recipient(recipients[0]); err != nil || recipients[0] != recipients[1] {
		t.Errorf("recipients %v: want one valid recipient kept across restarts", recipients)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "sproudctl.db"))
	if bytes.Contains(raw, []byte("AGE-SECRET-KEY")) {
		t.Error("the backup identity is in the database in clear")
	}
}

// TestServeWithoutToolsKeepsNoBackups: a runtime that cannot run the instance's tool
// starts without backups and says so; the backup routes answer 503.
func TestServeWithoutToolsKeepsNoBackups(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", BaseDomain: "sproud.test", DataDir: dir, Templates: "../../../templates",
		SecretKey: bytes.Repeat([]byte{1}, 32), LeaseTTL: 30 * time.Second, AppVersion: "test", BackupTarget: "file://" + filepath.Join(dir, "backups")}
	token := bootstrapToken(t, dir, cfg.SecretKey)
	log := &logbuf.Buffer{}
	api, stop := runPlane(t, cfg, runtimetest.NewFake(), log)
	req, _ := http.NewRequest("GET", "http://"+api+"/v1/backups/stale", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	stop()
	if res.StatusCode != 503 || !strings.Contains(log.String(), "backups are off: this runtime cannot run") {
		t.Errorf("GET /v1/backups/stale: %d; log:\n%s", res.StatusCode, log)
	}
}

// bootstrapToken writes an admin token into the data dir's store, as `sproudctl token
// create --data-dir` does.
func bootstrapToken(t *testing.T, dir string, key []byte) string {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "", filepath.Join(dir, "sproudctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.MigrateWith(ctx, key); err != nil {
		t.Fatal(err)
	}
	_, raw, err := control.NewTokens(store.New(db), nil).Create(ctx, lifecycle.TokenRequest{Name: "ops", Scopes: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
