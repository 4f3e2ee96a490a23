package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/database"
	"github.com/sproudstack/sproudchat/platform/sealbox"
	"github.com/sproudstack/sproudchat/platform/testkit/dbtest"
)

// legacySealTarget is how notify.Sealer sealed a target's config before migration 0015:
// AES-256-GCM under HMAC-SHA256(secret key, "sproudchat notification targets v1"), a
// random nonce in front, the associated data "notify_target".
func legacySealTarget(t *testing.T, secretKey []byte, cfg notify.TargetConfig) []byte {
	t.Helper()
	m := hmac.New(sha256.New, secretKey)
	m.Write([]byte("sproudchat notification targets v1"))
	a, err := sealbox.NewGCM(m.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(cfg)
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, plain, []byte("notify_target"))
}

// TestResealKeepsTargetsReadable: notification targets sealed by the earlier
// notify.Sealer open through notify.Hooks after migration 0015.
func TestResealKeepsTargetsReadable(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		key := bytes.Repeat([]byte{5}, 32)
		o := dbtest.Options(t, d)
		db, err := Open(ctx, o.URL, o.SQLitePath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		before := database.Migrator{FS: migrationFiles, Dir: "migrations", LockKey: 727001}
		if applied, err := before.Up(ctx, db.DB); err != nil || applied[len(applied)-1] != 14 {
			t.Fatalf("migrate as the earlier version: %v, %v", applied, err)
		}
		now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
		want := map[int64]notify.TargetConfig{}
		for i, cfg := range []notify.TargetConfig{
			{URL: "https://hooks.slack.example/T1/B2/c3"},
			{URL: "https://billing.example/hook", Secret: "whsec_1"},
		} {
			row := map[string]any{"kind": []string{"slack", "webhook"}[i], "name": "t", "events": "ticket.created",
				"config_sealed": legacySealTarget(t, key, cfg), "active": true, "created_at": now, "updated_at": now}
			if err := db.Gorm().Table("notify_targets").Create(row).Error; err != nil {
				t.Fatal(err)
			}
			want[int64(i+1)] = cfg
		}

		if _, err := db.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "secret key") {
			t.Fatalf("migrating without the key: %v; want an error that asks for it", err)
		}
		applied, err := db.MigrateWith(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if latest, _ := db.LatestVersion(); applied[len(applied)-1] != latest || applied[0] != 15 {
			t.Errorf("applied %v, want 15 to %d", applied, latest)
		}

		seal, err := notify.NewSealer(key)
		if err != nil {
			t.Fatal(err)
		}
		hooks := notify.NewHooks(NewHooks(db), seal, nil, nil, notify.HookOptions{Clock: clock.NewFake(now)})
		got := map[int64]notify.TargetConfig{}
		for id := range want {
			tg, err := hooks.Target(ctx, id)
			if err != nil {
				t.Fatalf("target %d: %v", id, err)
			}
			got[id] = tg.Config
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("targets after re-sealing (-want +got):\n%s", diff)
		}
	})
}
