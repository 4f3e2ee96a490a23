package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recorder keeps what a helper reports instead of ending the test.
type recorder struct {
	testing.TB
	fatal, errs []string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Logf(string, ...any)               {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = append(r.fatal, format) }
func (r *recorder) Errorf(format string, args ...any) { r.errs = append(r.errs, format) }
func (r *recorder) failed() bool                      { return len(r.fatal)+len(r.errs) > 0 }

// inTempPackage runs fn in a fresh directory, as if it were a package directory, with a
// fresh record of used files and -update as given.
func inTempPackage(t *testing.T, upd bool, fn func(dir string)) {
	dir := t.TempDir()
	t.Chdir(dir)
	old, oldUsed := *update, used
	*update, used = upd, map[string]bool{}
	t.Cleanup(func() { *update, used = old, oldUsed })
	fn(dir)
}

func TestAssert(t *testing.T) {
	t.Setenv("CI", "")
	tests := []struct {
		name     string
		file     string // the golden file's content; "" for none
		got      string
		update   bool
		wantFail bool
		wantFile string // the golden file's content after
	}{
		{name: "same", file: "a\nb\n", got: "a\nb\n", wantFile: "a\nb\n"},
		{name: "differs", file: "a\nb\n", got: "a\nc\n", wantFail: true, wantFile: "a\nb\n"},
		{name: "missing", got: "a\n", wantFail: true},
		{name: "update writes and compares nothing", file: "old\n", got: "new\n", update: true, wantFile: "new\n"},
		{name: "update creates", got: "new\n", update: true, wantFile: "new\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inTempPackage(t, tc.update, func(dir string) {
				path := filepath.Join("testdata", "x.golden")
				if tc.file != "" {
					os.MkdirAll("testdata", 0o755)
					os.WriteFile(path, []byte(tc.file), 0o644)
				}
				r := &recorder{TB: t}
				AssertString(r, path, tc.got)
				if r.failed() != tc.wantFail {
					t.Errorf("failed = %v (%v %v), want %v", r.failed(), r.fatal, r.errs, tc.wantFail)
				}
				after, _ := os.ReadFile(path)
				if string(after) != tc.wantFile {
					t.Errorf("file after: %q, want %q", after, tc.wantFile)
				}
			})
		})
	}
}

func TestUpdateRefusedUnderCI(t *testing.T) {
	t.Setenv("CI", "true")
	inTempPackage(t, true, func(dir string) {
		r := &recorder{TB: t}
		AssertString(r, "testdata/x.golden", "new\n")
		if len(r.fatal) == 0 || !strings.Contains(r.fatal[0], "CI") {
			t.Errorf("fatal %v, want a refusal naming CI", r.fatal)
		}
		if _, err := os.Stat("testdata/x.golden"); !os.IsNotExist(err) {
			t.Errorf("the file was written under CI (%v)", err)
		}
	})
}

func TestUpdateReportsWriteErrors(t *testing.T) {
	t.Setenv("CI", "")
	inTempPackage(t, true, func(dir string) {
		os.MkdirAll("testdata/x.golden", 0o755) // a directory where the file should go
		r := &recorder{TB: t}
		AssertString(r, "testdata/x.golden", "new\n")
		if len(r.fatal) == 0 {
			t.Error("a failed write passed")
		}
	})
}

func TestUnused(t *testing.T) {
	inTempPackage(t, false, func(dir string) {
		for _, p := range []string{"testdata/a.golden", "testdata/help/b.golden", "testdata/c.golden.json", "testdata/input.md"} {
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte("x"), 0o644)
		}
		AssertString(&recorder{TB: t}, "testdata/a.golden", "x")
		AssertString(&recorder{TB: t}, "./testdata/c.golden.json", "x")
		got, err := Unused()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{filepath.Join("testdata", "help", "b.golden")}, got); diff != "" {
			t.Errorf("unused (-want +got):\n%s", diff)
		}
	})
}

type fakeM int

func (f fakeM) Run() int { return int(f) }

func TestMFailsOnUnused(t *testing.T) {
	inTempPackage(t, false, func(dir string) {
		if code := M(fakeM(0)).Run(); code != 0 {
			t.Errorf("no testdata: exit %d, want 0", code)
		}
		os.MkdirAll("testdata", 0o755)
		os.WriteFile("testdata/orphan.golden", []byte("x"), 0o644)
		if code := M(fakeM(0)).Run(); code != 1 {
			t.Errorf("an orphan golden file: exit %d, want 1", code)
		}
		if code := M(fakeM(3)).Run(); code != 3 {
			t.Errorf("failed tests: exit %d, want theirs (3)", code)
		}
	})
}
