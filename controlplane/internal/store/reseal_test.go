package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/platform/database"
	"github.com/sproudstack/sproudchat/platform/sealbox"
	"github.com/sproudstack/sproudchat/platform/testkit/dbtest"
)

// legacySeal is how secret.Box sealed before migration 0003: AES-256-GCM under the
// secret key itself, a random nonce in front, no associated data.
func legacySeal(t *testing.T, key, plain []byte) []byte {
	t.Helper()
	a, err := sealbox.NewGCM(key)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, plain, nil)
}

// openAtVersion2 opens a fresh database migrated as the control plane before 0003 did.
func openAtVersion2(t *testing.T, d Dialect) *DB {
	t.Helper()
	o := dbtest.Options(t, d)
	db, err := Open(context.Background(), o.URL, o.SQLitePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// Only the files before 0003: later ones (0004 on) come after the step.
	old := fstest.MapFS{}
	for _, name := range []string{"migrations/0001_control_plane.sql", "migrations/0002_orphans.sql"} {
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: b}
	}
	before := database.Migrator{FS: old, Dir: "migrations", LockKey: 727002}
	if applied, err := before.Up(context.Background(), db.DB); err != nil || len(applied) != 2 {
		t.Fatalf("migrate to version 2: applied %v, %v", applied, err)
	}
	return db
}

// TestResealKeepsSecretsReadable: secrets sealed by the earlier secret.Box (instance
// secrets, stored API responses, webhook URLs and secrets) open through the new box,
// each at its place only, after migration 0003.
func TestResealKeepsSecretsReadable(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		key := bytes.Repeat([]byte{9}, 32)
		db := openAtVersion2(t, d)
		now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
		g := db.Gorm()
		for _, row := range []struct {
			table  string
			values map[string]any
		}{
			{"instances", map[string]any{"id": "in_1", "customer_id": "cus_1", "slug": "acme", "plan": "starter", "state": "active",
				"desired_state": "active", "next_attempt_at": now, "secrets": legacySeal(t, key, []byte(`{"secret_key":"k1"}`)), "created_at": now, "updated_at": now}},
			{"instances", map[string]any{"id": "in_2", "customer_id": "cus_1", "slug": "beta", "plan": "starter", "state": "destroyed",
				"desired_state": "destroyed", "next_attempt_at": now, "created_at": now, "updated_at": now}},
			{"idempotency_keys", map[string]any{"token_id": 7, "key": "order-1", "request_hash": "h", "status": 202,
				"body": base64.StdEncoding.EncodeToString(legacySeal(t, key, []byte(`{"id":"in_1"}`))), "created_at": now}},
			{"webhooks", map[string]any{"url": legacySeal(t, key, []byte("https://billing.example/hook")), "secret": legacySeal(t, key, []byte("whsec")),
				"events": "instance.created", "created_at": now}},
		} {
			if err := g.Table(row.table).Create(row.values).Error; err != nil {
				t.Fatal(err)
			}
		}

		if _, err := db.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "secret key") {
			t.Fatalf("migrating without the key: %v; want an error that asks for it", err)
		}
		applied, err := db.MigrateWith(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int{3}, applied[:min(1, len(applied))]); diff != "" { // 3, then whatever came after it
			t.Errorf("applied (-want +got):\n%s", diff)
		}

		box, err := secret.New(key)
		if err != nil {
			t.Fatal(err)
		}
		secretsOf := func(id string) []byte {
			var r struct{ Secrets []byte }
			if err := g.Raw("SELECT secrets FROM instances WHERE id = ?", id).Scan(&r).Error; err != nil {
				t.Fatal(err)
			}
			return r.Secrets
		}
		inst := secretsOf("in_1")
		var body string
		g.Raw("SELECT body FROM idempotency_keys WHERE token_id = 7").Scan(&body)
		rawBody, _ := base64.StdEncoding.DecodeString(body)
		var hook struct{ URL, Secret []byte }
		g.Raw("SELECT url, secret FROM webhooks").Scan(&hook)
		got := map[string]string{}
		for name, v := range map[string]struct {
			sealed []byte
			place  sealbox.Place
		}{
			"instance":       {inst, secret.InstanceSecrets("in_1")},
			"response":       {rawBody, secret.IdempotentBody(7, "order-1")},
			"webhook url":    {hook.URL, secret.WebhookURL},
			"webhook secret": {hook.Secret, secret.WebhookSecret},
		} {
			plain, err := box.Open(v.sealed, v.place)
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			got[name] = string(plain)
		}
		want := map[string]string{"instance": `{"secret_key":"k1"}`, "response": `{"id":"in_1"}`,
			"webhook url": "https://billing.example/hook", "webhook secret": "whsec"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("secrets after re-sealing (-want +got):\n%s", diff)
		}
		if _, err := box.Open(inst, secret.InstanceSecrets("in_2")); err == nil {
			t.Error("instance in_1's secrets open as in_2's")
		}
		if none := secretsOf("in_2"); none != nil {
			t.Errorf("a NULL secret became %x", none)
		}
	})
}
