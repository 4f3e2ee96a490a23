// Package golden compares what a test renders with a file under testdata/ checked in
// beside it: rendered container specs, CLI help, route tables, sanitized HTML.
//
// `go test -update` rewrites the files instead (and compares nothing); under CI=true it
// is refused, so CI never blesses its own output. A package whose tests use golden files
// runs them through M, which fails the run when a golden file under testdata/ (a file
// whose name holds ".golden") was read by no test:
//
//	func TestMain(m *testing.M) { os.Exit(golden.M(m).Run()) }
//
// (or goleak.VerifyTestMain(golden.M(m)) where goleak checks the package too).
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files instead of comparing with them (refused under CI=true)")

// Dir is where golden files live, relative to the package under test.
const Dir = "testdata"

var (
	mu   sync.Mutex
	used = map[string]bool{} // cleaned paths Assert was given
)

// Assert compares got with the golden file at path (relative to the package, under
// testdata/) and fails t with a line diff if they differ or the file is missing. With
// -update it writes got to path instead, failing t if it cannot, or if CI=true.
func Assert(t testing.TB, path string, got []byte) {
	t.Helper()
	path = filepath.Clean(path)
	mu.Lock()
	used[path] = true
	mu.Unlock()
	if *update {
		if os.Getenv("CI") == "true" {
			t.Fatalf("golden: -update is refused under CI=true: CI compares with the checked-in %s, it does not rewrite it", path)
			return
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("golden: %v", err)
			return
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("golden: write %s: %v", path, err)
			return
		}
		t.Logf("golden: wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden: %v (go test -update writes it)", err)
		return
	}
	if !bytes.Equal(want, got) {
		diff := cmp.Diff(strings.SplitAfter(string(want), "\n"), strings.SplitAfter(string(got), "\n"))
		t.Errorf("golden: output differs from %s; review, then go test -update (-want +got):\n%s", path, diff)
	}
}

// AssertString is Assert for text.
func AssertString(t testing.TB, path, got string) {
	t.Helper()
	Assert(t, path, []byte(got))
}

// TestingM is what M wraps: *testing.M, or anything that runs a package's tests.
type TestingM interface{ Run() int }

// M wraps m: its Run runs the tests, and when all of them ran and passed (no -run,
// -skip or -short) fails with exit code 1 if a golden file under testdata/ was read by
// no test, naming each.
func M(m TestingM) TestingM { return checked{m} }

type checked struct{ m TestingM }

func (c checked) Run() int {
	code := c.m.Run()
	if code != 0 || partial() {
		return code
	}
	unused, err := Unused()
	if err != nil {
		fmt.Fprintf(os.Stderr, "golden: %v\n", err)
		return 1
	}
	if len(unused) > 0 {
		fmt.Fprintf(os.Stderr, "golden: no test reads %s: delete it or test with it\n", strings.Join(unused, ", "))
		return 1
	}
	return 0
}

// partial reports whether this run left tests out on purpose.
func partial() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return testing.Short()
}

// Unused lists the golden files under testdata/ (names holding ".golden") that Assert
// has not been given in this run, sorted.
func Unused() ([]string, error) {
	var out []string
	err := filepath.WalkDir(Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == Dir {
				return fs.SkipDir
			}
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), ".golden") {
			mu.Lock()
			ok := used[filepath.Clean(path)]
			mu.Unlock()
			if !ok {
				out = append(out, path)
			}
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}
