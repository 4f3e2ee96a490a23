package template

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/testkit/golden"
	"github.com/sproudstack/sproudchat/provisioning"
)

func TestMain(m *testing.M) { os.Exit(golden.M(m).Run()) }

func TestShippedPlansLoadAndRender(t *testing.T) {
	plans, err := LoadDir("../../templates")
	if err != nil {
		t.Fatal(err)
	}
	starter, ok := plans["starter"]
	if !ok {
		t.Fatalf("no starter plan in %v", plans)
	}
	spec, err := starter.Render(Instance{ID: "inst-1", Slug: "acme", Mode: provisioning.ModeReadOnly,
		ReadOnlyUntil: time.Date(2026, 12, 29, 0, 0, 0, 0, time.UTC), BaseURL: "https://acme.sproud.chat",
		Secrets: map[string]string{"SPROUDCHAT_SECRET_KEY": "k", "SPROUDCHAT_SETUP_TOKEN": "t"}}, Options{Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(spec, "", "  ")
	golden.Assert(t, filepath.Join("testdata", "starter.spec.golden.json"), append(got, '\n'))
}

func TestBadPlansNameFileAndField(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", `name: unknown-field
display_name: X
app: {image: x, memory: 64Mi, cpus: 1, attachment_quota: 1Gi, colour: red}
database: {kind: sqlite}
`, []string{"unknown-field.yaml:3: app.colour: unknown field"}},
		{"negative memory", `name: negative-memory
display_name: X
app:
  image: x
  memory: -64Mi
  cpus: 1
  attachment_quota: 1Gi
database: {kind: sqlite}
`, []string{"negative-memory.yaml:5: app.memory:"}},
		{"missing image", `name: missing-image
display_name: X
app: {memory: 64Mi, cpus: 1, attachment_quota: 1Gi}
database: {kind: sqlite}
`, []string{"missing-image.yaml: app.image: is required"}},
		{"every problem at once", `name: every-problem
app: {image: x, memory: 1Gi, cpus: 0, pids: 3, attachment_quota: 1Gi}
database: {kind: mysql}
lifecycle: {read_only_days: 0}
extra: 1
`, []string{"display_name: is required", "app.cpus:", "app.pids:", "database.kind:", "lifecycle.read_only_days:", "every-problem-at-once.yaml:5: extra: unknown field"}},
		{"postgres needs its own limits", `name: pg-limits
display_name: X
app: {image: x, memory: 64Mi, cpus: 1, attachment_quota: 1Gi}
database: {kind: postgres}
`, []string{"database.image: is required", "database.memory: is required"}},
		{"name must match the file", `name: other
display_name: X
app: {image: x, memory: 64Mi, cpus: 1, attachment_quota: 1Gi}
database: {kind: sqlite}
`, []string{"name must match the file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := strings.ReplaceAll(tc.name, " ", "-") + ".yaml"
			if tc.name == "name must match the file" {
				file = "mismatch.yaml"
			}
			_, err := Parse(file, []byte(tc.yaml))
			var le *LoadError
			if !errors.As(err, &le) || !errors.Is(err, ErrPlan) {
				t.Fatalf("error %v, want a *LoadError", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) && !(w == "name must match the file" && strings.Contains(msg, "must match the file name")) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestLoadDirReportsEveryFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("name: a\nbogus: 1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("name: b\napp: {memory: lots}\n"), 0o644)
	_, err := LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), "a.yaml:2: bogus: unknown field") || !strings.Contains(err.Error(), "b.yaml:2: app.memory:") {
		t.Fatalf("LoadDir error: %v", err)
	}
}

func TestRenderRefusesAnInvalidInstance(t *testing.T) {
	plans, err := LoadDir("../../templates")
	if err != nil {
		t.Fatal(err)
	}
	_, err = plans["starter"].Render(Instance{ID: "x", Slug: "Not_A_Label", BaseURL: "http://x"}, Options{Version: "v"})
	if !errors.Is(err, provisioning.ErrInvalid) {
		t.Fatalf("invalid slug: %v, want ErrInvalid", err)
	}
}
