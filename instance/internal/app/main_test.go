package app

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
)

const testKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestBadConfigurationExitsTwoAndCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cases := []map[string]string{
		{"SPROUDCHAT_DATA_DIR": dir},
		{"SPROUDCHAT_DATA_DIR": dir, "SPROUDCHAT_SECRET_KEY": testKey, "SPROUDCHAT_MODE": "readonly"},
		{"SPROUDCHAT_DATA_DIR": dir, "SPROUDCHAT_SECRET_KEY": testKey, "SPROUDCHAT_DATABASE_URL": "sqlite://x"},
		{"SPROUDCHAT_DATA_DIR": dir, "SPROUDCHAT_SECRET_KEY": testKey, "SPROUDCHAT_SMTP_URL": "smtp://u:pw@relay.example:587?tls=optional"},
	}
	for _, env := range cases {
		for _, cmd := range []string{"serve", "migrate"} {
			t.Run(fmt.Sprint(cmd, " ", env), func(t *testing.T) {
				code, _, stderr := run(t, env, cmd)
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "SPROUDCHAT_") {
					t.Errorf("%s with %v: exit %d, stderr %q; want exit 2 and one line naming the variable", cmd, env, code, stderr)
				}
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Fatalf("%s with bad configuration created %s", cmd, dir)
				}
			})
		}
	}
	for _, args := range [][]string{{"frobnicate"}, {"serve", "extra"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if code, _, stderr := run(t, nil, args...); code != 2 || !strings.Contains(stderr, "usage:") {
				t.Errorf("%v: exit %d, %q; want 2 with usage", args, code, stderr)
			}
		})
	}
}

func TestVersionAndMigrate(t *testing.T) {
	if code, out, _ := run(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "sproudchat ") {
		t.Fatalf("version: %d %q", code, out)
	}
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		env := map[string]string{"SPROUDCHAT_DATA_DIR": filepath.Join(t.TempDir(), "data"), "SPROUDCHAT_SECRET_KEY": testKey}
		if d == "postgres" {
			env["SPROUDCHAT_DATABASE_URL"] = storetest.MustPostgresDatabase(t)
		}
		ms, _ := store.Migrations(d)
		want := fmt.Sprintf("schema version %d; applied %d migration(s)", ms[len(ms)-1].Version, len(ms))
		code, out, stderr := run(t, env, "migrate")
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("first migrate: %d %q %q", code, out, stderr)
		}
		if code, out, _ := run(t, env, "migrate"); code != 0 || !strings.Contains(out, "applied 0 migration(s)") {
			t.Fatalf("second migrate: %d %q", code, out)
		}
		if d == "sqlite" {
			fi, err := os.Stat(filepath.Join(env["SPROUDCHAT_DATA_DIR"], "sproudchat.db"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("database file: %v, mode %v; want 0600", err, fi.Mode().Perm())
			}
		}
	})
}
