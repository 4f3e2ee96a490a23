package provisioning

import (
	"errors"
	"strings"
	"testing"
)

func validSpec() Spec {
	return Spec{ID: "inst-1", Slug: "acme", Mode: ModeActive, BaseURL: "https://acme.sproud.chat",
		Database: DatabaseSpec{Kind: SQLite}, Secrets: map[string]string{"SPROUDCHAT_SECRET_KEY": "hunter2-hunter2"}}
}

func TestValidateListsEveryProblem(t *testing.T) {
	if err := validSpec().Validate(); err != nil {
		t.Fatal(err)
	}
	s := validSpec()
	s.ID, s.Slug, s.Mode, s.BaseURL = "Bad/ID", "-x", "paused", "acme"
	s.App.Env = map[string]string{"PATH": "/bin", "SPROUDCHAT_SECRET_KEY": "dup"}
	err := s.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate: %v, want ErrInvalid", err)
	}
	for _, want := range []string{"id", "slug", "mode", "base URL", `"PATH"`, "both as a secret"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
}

func TestValidSlug(t *testing.T) {
	for _, tc := range []struct {
		slug string
		want bool
	}{
		{"ab", false},
		{"a-", false},
		{"UPPER", false},
		{"a_b", false},
		{strings.Repeat("a", 64), false},
		{"abc", true},
		{"a-b", true},
		{"acme-gmbh-2", true},
		{strings.Repeat("a", 63), true},
	} {
		t.Run(tc.slug, func(t *testing.T) {
			if got := ValidSlug(tc.slug); got != tc.want {
				t.Errorf("ValidSlug(%q) = %v, want %v (a DNS label: 3 to 63 of a-z, 0-9, '-', not ending in '-')", tc.slug, got, tc.want)
			}
		})
	}
}

func TestHashIsStableChangesWithTheSpecAndHidesSecrets(t *testing.T) {
	a, b := validSpec(), validSpec()
	if a.Hash() != b.Hash() {
		t.Fatal("equal specs hash differently")
	}
	b.Mode = ModeReadOnly
	if a.Hash() == b.Hash() {
		t.Fatal("a new mode keeps the hash: the app would not be recreated")
	}
	c := validSpec()
	c.Secrets["SPROUDCHAT_SECRET_KEY"] = "rotated-rotated"
	if a.Hash() == c.Hash() {
		t.Fatal("a rotated secret keeps the hash")
	}
	if a.Secrets["SPROUDCHAT_SECRET_KEY"] != "hunter2-hunter2" {
		t.Fatal("Hash changed the spec's secrets")
	}
	env := a.Environment(":8080", "/data", "")
	if env["SPROUDCHAT_SECRET_KEY"] != "hunter2-hunter2" || env["SPROUDCHAT_MODE"] != "active" || env["SPROUDCHAT_DATA_DIR"] != "/data" {
		t.Fatalf("environment %v", env)
	}
	spoof := validSpec()
	spoof.App.Env = map[string]string{"SPROUDCHAT_INSTANCE_ID": "someone-else"}
	if env["SPROUDCHAT_INSTANCE_ID"] != a.ID || spoof.Environment(":8080", "/data", "")["SPROUDCHAT_INSTANCE_ID"] != spoof.ID {
		t.Fatalf("instance id: %q; with a plan variable naming another: %q; want the spec's id %q", env["SPROUDCHAT_INSTANCE_ID"],
			spoof.Environment(":8080", "/data", "")["SPROUDCHAT_INSTANCE_ID"], a.ID)
	}
	withQuota := validSpec()
	withQuota.App.AttachmentQuotaBytes = 5 << 30
	if q := withQuota.Environment(":8080", "/data", "")["SPROUDCHAT_ATTACHMENT_QUOTA_BYTES"]; q != "5368709120" {
		t.Fatalf("quota variable %q", q)
	}
	if _, ok := env["SPROUDCHAT_READ_ONLY_UNTIL"]; ok {
		t.Fatal("an active spec sets a read-only date")
	}
}
