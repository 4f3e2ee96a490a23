package layering

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const repo = "github.com/sproudstack/sproudchat/"

// Rules says which modules of the workspace a module must not import, its tests included:
// dependencies point from the binaries inward to provisioning and platform, never back.
var rules = []struct {
	module    string
	forbidden []string
}{
	{module: "platform", forbidden: []string{"instance", "controlplane", "provisioning"}},
	{module: "instance", forbidden: []string{"controlplane", "provisioning"}},
	{module: "provisioning", forbidden: []string{"controlplane"}},
}

func TestModulesImportOnlyInward(t *testing.T) {
	root := workspaceRoot(t)
	for _, r := range rules {
		t.Run(r.module, func(t *testing.T) {
			t.Parallel()
			imports := listDeps(t, filepath.Join(root, r.module))
			if len(imports) == 0 {
				t.Fatalf("go list found no package in %s", r.module)
			}
			for _, f := range r.forbidden {
				if bad := importersOf(imports, repo+f); len(bad) > 0 {
					t.Errorf("%s imports %s:\n\t%s", r.module, f, strings.Join(bad, "\n\t"))
				}
			}
		})
	}
}

// workspaceRoot is the directory of the go.work this test runs in.
func workspaceRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		t.Fatalf("go env GOWORK: %v", err)
	}
	gowork := strings.TrimSpace(string(out))
	if gowork == "" || gowork == "off" {
		t.Fatal("not in a workspace: run from the repository (go.work)")
	}
	return filepath.Dir(gowork)
}

// listDeps returns, for every package the module's packages and tests build from, the
// packages it imports.
func listDeps(t *testing.T, dir string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-test", "-f", `{{.ImportPath}}{{range .Imports}}{{"\t"}}{{.}}{{end}}`, "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps in %s: %v\n%s", dir, err, stderr.String())
	}
	imports := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		imports[fields[0]] = fields[1:]
	}
	return imports
}

// importersOf lists "importer -> imported" for every import of a package in module mod
// (a module path: the module's root package or one under it).
func importersOf(imports map[string][]string, mod string) []string {
	var out []string
	for pkg, deps := range imports {
		if inModule(pkg, mod) {
			continue
		}
		for _, d := range deps {
			if inModule(d, mod) {
				out = append(out, pkg+" -> "+d)
			}
		}
	}
	slices.Sort(out)
	return out
}

func inModule(pkg, mod string) bool { return pkg == mod || strings.HasPrefix(pkg, mod+"/") }
