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
	for _, slug := range []string{"ab", "a-", "UPPER", "a_b", strings.Repeat("a", 64)} {
		if ValidSlug(slug) {
			t.Errorf("%q passed as a DNS label", slug)
		}
	}
	for _, slug := range []string{"abc", "a-b", "acme-gmbh-2", strings.Repeat("a", 63)} {
		if !ValidSlug(slug) {
			t.Errorf("%q refused as a DNS label", slug)
		}
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
