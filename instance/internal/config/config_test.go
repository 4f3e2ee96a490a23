package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{"SPROUDCHAT_SECRET_KEY": key}))
	if err != nil {
		t.Fatal(err)
	}
	want := loaded{ListenAddr: ":8080", DataDir: "./data", Mode: ModeActive, BaseURL: "http://localhost:8080",
		SecretKeyLen: 32, SQLitePath: "data/sproudchat.db"}
	if diff := cmp.Diff(want, loadedOf(c)); diff != "" {
		t.Fatalf("defaults (-want +got):\n%s", diff)
	}
}

// loaded is what the tests check of a loaded configuration.
type loaded struct {
	ListenAddr, DataDir string
	Mode                Mode
	ReadOnlyUntil       time.Time
	BaseURL             string
	SecretKeyLen        int
	UsesPostgres        bool
	SQLitePath          string
	SMTPPort            string
}

func loadedOf(c Config) loaded {
	l := loaded{ListenAddr: c.ListenAddr, DataDir: c.DataDir, Mode: c.Mode, ReadOnlyUntil: c.ReadOnlyUntil,
		BaseURL: c.BaseURL.String(), SecretKeyLen: len(c.SecretKey), UsesPostgres: c.UsesPostgres(), SQLitePath: c.SQLitePath()}
	if c.SMTPURL != nil {
		l.SMTPPort = c.SMTPURL.Port()
	}
	return l
}

// TestLoadInstanceID: the id the runtime passes is what /healthz answers; a lone
// instance has none.
func TestLoadInstanceID(t *testing.T) {
	for in, want := range map[string]string{"": "", "in-0a1b2c": "in-0a1b2c"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			c, err := Load(env(map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_INSTANCE_ID": in}))
			if err != nil {
				t.Fatal(err)
			}
			if c.InstanceID != want {
				t.Errorf("SPROUDCHAT_INSTANCE_ID=%q: %q, want %q", in, c.InstanceID, want)
			}
		})
	}
}

func TestLoadSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "key")
	os.WriteFile(f, []byte(key+"\n"), 0o600)
	c, err := Load(env(map[string]string{"SPROUDCHAT_SECRET_KEY_FILE": f, "SPROUDCHAT_MODE": "read_only",
		"SPROUDCHAT_READ_ONLY_UNTIL": "2026-12-24T10:00:00+01:00", "SPROUDCHAT_BASE_URL": "https://acme.sproud.chat/",
		"SPROUDCHAT_DATABASE_URL": "postgres://u:p@db:5432/x", "SPROUDCHAT_SMTP_URL": "smtps://u:p@mail.example:465"}))
	if err != nil {
		t.Fatal(err)
	}
	want := loaded{ListenAddr: ":8080", DataDir: "./data", Mode: ModeReadOnly, ReadOnlyUntil: time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC),
		BaseURL: "https://acme.sproud.chat", SecretKeyLen: 32, UsesPostgres: true, SQLitePath: "data/sproudchat.db", SMTPPort: "465"}
	if diff := cmp.Diff(want, loadedOf(c)); diff != "" {
		t.Fatalf("loaded (-want +got):\n%s", diff)
	}
}

func TestLoadNamesTheBadVariable(t *testing.T) {
	cases := []struct {
		env      map[string]string
		variable string
		notIn    string // must not appear in the message (a secret)
	}{
		{map[string]string{}, "SPROUDCHAT_SECRET_KEY", ""},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": "abcd"}, "SPROUDCHAT_SECRET_KEY", ""},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": "not base64 !!"}, "SPROUDCHAT_SECRET_KEY", ""},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_SECRET_KEY_FILE": "/x"}, "SPROUDCHAT_SECRET_KEY", ""},
		{map[string]string{"SPROUDCHAT_SECRET_KEY_FILE": "/does/not/exist"}, "SPROUDCHAT_SECRET_KEY_FILE", ""},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_MODE": "paused"}, "SPROUDCHAT_MODE", ""},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_LISTEN_ADDR": "8080"}, "SPROUDCHAT_LISTEN_ADDR", ""},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_READ_ONLY_UNTIL": "tomorrow"}, "SPROUDCHAT_READ_ONLY_UNTIL", ""},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_BASE_URL": "acme.example"}, "SPROUDCHAT_BASE_URL", ""},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_DATABASE_URL": "mysql://u:hunter2@db/x"}, "SPROUDCHAT_DATABASE_URL", "hunter2"},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_SMTP_URL": "http://u:hunter2@mail"}, "SPROUDCHAT_SMTP_URL", "hunter2"},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_SMTP_URL": "smtp://u:hunter2@mail:587?tls=sometimes"}, "SPROUDCHAT_SMTP_URL", "hunter2"},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_SMTP_URL": "smtp://u:hunter2@mail:587?tls="}, "SPROUDCHAT_SMTP_URL", "hunter2"},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_SMTP_URL": "smtp://u:hunter2@mail:587?tsl=required"}, "SPROUDCHAT_SMTP_URL", "hunter2"},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_SMTP_URL": "smtp://u:hunter2@mail:587?tls=required&tls=no"}, "SPROUDCHAT_SMTP_URL", "hunter2"},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_SETUP_TOKEN": "short"}, "SPROUDCHAT_SETUP_TOKEN", ""},
		{map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_INSTANCE_ID": "in 1\r\nX-Evil: 1"}, "SPROUDCHAT_INSTANCE_ID", ""},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.env), func(t *testing.T) {
			t.Parallel()
			_, err := Load(env(tc.env))
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != tc.variable {
				t.Fatalf("%v: error %v, want one naming %s", tc.env, err, tc.variable)
			}
			if tc.notIn != "" && strings.Contains(err.Error(), tc.notIn) {
				t.Errorf("%v: the message %q repeats a secret", tc.env, err)
			}
		})
	}
}

func TestSMTPURLMayRequireTLS(t *testing.T) {
	c, err := Load(env(map[string]string{"SPROUDCHAT_SECRET_KEY": key, "SPROUDCHAT_SMTP_URL": "smtp://u:p@relay.example:587?tls=required"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPURL.Host != "relay.example:587" || c.SMTPURL.Query().Get("tls") != "required" {
		t.Fatalf("SMTP URL %v", c.SMTPURL)
	}
}
