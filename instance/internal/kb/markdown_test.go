package kb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/platform/testkit/golden"
)

func TestMain(m *testing.M) { os.Exit(golden.M(m).Run()) }

// TestMarkdownIsRenderedHarmless pins what hostile Markdown becomes.
func TestMarkdownIsRenderedHarmless(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.md")
	if len(inputs) == 0 {
		t.Fatal("no testdata/*.md")
	}
	for _, in := range inputs {
		src, _ := os.ReadFile(in)
		got := RenderMarkdown(string(src))
		for _, bad := range []string{"<script", "onerror", "onclick", "javascript:", "<iframe", "<style", "data:text/html"} {
			if strings.Contains(strings.ToLower(got), bad) {
				t.Errorf("%s renders %q:\n%s", in, bad, got)
			}
		}
		golden.AssertString(t, strings.TrimSuffix(in, ".md")+".golden.html", got)
	}
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{"Passwort zurücksetzen": "passwort-zuruecksetzen", "  Größe & Maße!  ": "groesse-masse", "How to: refund?": "how-to-refund"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			if got := Slugify(in); got != want {
				t.Errorf("Slugify(%q) = %q, want %q", in, got, want)
			}
		})
	}
}
