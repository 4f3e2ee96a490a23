package web

import (
	"io/fs"
	"regexp"
	"testing"
)

// srWrapped finds a visually hidden element (class "sr") that wraps a form control:
// the control is hidden with its label, so a sighted user cannot reach it (the
// users page once showed only "Save" where the role and ticket-access selects were).
var srWrapped = regexp.MustCompile(`<(label|span|div)[^>]*class="sr"[^>]*>[^<]*<(select|input|textarea|button)\b`)

// TestNoFormControlIsVisuallyHidden checks every template: a label meant only for
// screen readers holds the text, never the control.
func TestNoFormControlIsVisuallyHidden(t *testing.T) {
	err := fs.WalkDir(templateFiles, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFiles, path)
		if err != nil {
			return err
		}
		if m := srWrapped.Find(b); m != nil {
			t.Errorf("%s: a form control inside a screen-reader-only element: %s", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
