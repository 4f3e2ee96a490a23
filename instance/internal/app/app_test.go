package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/config"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
)

// TestReadyzNeedsCurrentSchema: /readyz is 200 on a migrated database and 503 when the
// schema is behind or the database is gone, on both databases.
func TestReadyzNeedsCurrentSchema(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		env := map[string]string{"SPROUDCHAT_DATA_DIR": filepath.Join(t.TempDir(), "data"), "SPROUDCHAT_SECRET_KEY": testKey}
		if d == "postgres" {
			env["SPROUDCHAT_DATABASE_URL"] = storetest.MustPostgresDatabase(t)
		}
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(context.Background(), cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ready := func() int {
			rec := httptest.NewRecorder()
			a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			return rec.Code
		}
		if code := ready(); code != http.StatusOK {
			t.Fatalf("migrated: /readyz %d", code)
		}
		if err := a.db.Gorm().Exec("DELETE FROM schema_migrations").Error; err != nil {
			t.Fatal(err)
		}
		if code := ready(); code != http.StatusServiceUnavailable {
			t.Fatalf("schema behind: /readyz %d, want 503", code)
		}
		a.Close()
		if code := ready(); code != http.StatusServiceUnavailable {
			t.Fatalf("database closed: /readyz %d, want 503", code)
		}
	})
}
