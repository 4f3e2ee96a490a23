package instance_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const module = "github.com/sproudstack/sproudchat/instance"

// adapters are the packages (with everything under them) that may import anything: the
// outside world's adapters and the wiring. Every other package of the module is a
// domain package, so a new area is held to the rule without being listed.
var adapters = []string{
	module + "/cmd",
	module + "/internal/app",
	module + "/internal/backup",    // the data's way out and back in: database files, pg_dump
	module + "/internal/benchseed", // fills databases for benchmarks, through store
	module + "/internal/store",
	module + "/internal/web",
}

// forbidden says which imports a domain package must not reach, directly or through
// another package, and who is excepted.
var forbidden = []struct {
	prefix string   // an import path, or a prefix ending in "/"
	except []string // domain packages allowed to import it
	why    string
}{
	{"github.com/labstack/echo/", nil, "HTTP routing lives in web"},
	{"gorm.io/", nil, "the database lives in store"},
	{"net/http", []string{module + "/internal/notify"}, "only notify's senders make HTTP requests"},
}

// TestDomainPackagesImportNoAdapters reads the module's import graph with go list -deps
// and checks the layering rule: no domain package reaches echo or gorm, and none but
// notify reaches net/http. A failure names the chain of imports that breaks it.
func TestDomainPackagesImportNoAdapters(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := parseGraph(out)
	var domain []string
	for p := range graph {
		if (p == module || strings.HasPrefix(p, module+"/")) && !isAdapter(p) {
			domain = append(domain, p)
		}
	}
	if !slices.Contains(domain, module+"/internal/booking") || !slices.Contains(domain, module+"/internal/notify") {
		t.Fatalf("go list found no domain packages: %v", domain)
	}
	for _, v := range violations(graph, domain) {
		t.Error(v)
	}
}

// TestLayeringCheckFindsAnIndirectImport holds the check itself to account: a domain
// package that reaches net/http through a library, and one that imports echo, are
// both reported with their chain; notify's own net/http is not.
func TestLayeringCheckFindsAnIndirectImport(t *testing.T) {
	graph := map[string][]string{
		module + "/internal/booking":    {"github.com/arran4/golang-ical", "time"},
		"github.com/arran4/golang-ical": {"net/http"},
		module + "/internal/kb":         {"github.com/labstack/echo/v4"},
		"github.com/labstack/echo/v4":   {"net/http"},
		module + "/internal/notify":     {"net/http"},
		"net/http":                      nil, "time": nil,
	}
	got := violations(graph, []string{module + "/internal/booking", module + "/internal/kb", module + "/internal/notify"})
	want := []string{
		module + "/internal/booking imports net/http (only notify's senders make HTTP requests): " + module + "/internal/booking -> github.com/arran4/golang-ical -> net/http",
		module + "/internal/kb imports github.com/labstack/echo/ (HTTP routing lives in web): " + module + "/internal/kb -> github.com/labstack/echo/v4",
		module + "/internal/kb imports net/http (only notify's senders make HTTP requests): " + module + "/internal/kb -> github.com/labstack/echo/v4 -> net/http",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

func parseGraph(out []byte) map[string][]string {
	graph := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, imports, _ := strings.Cut(sc.Text(), "\t")
		graph[path] = strings.Fields(imports)
	}
	return graph
}

func isAdapter(p string) bool {
	for _, a := range adapters {
		if p == a || strings.HasPrefix(p, a+"/") {
			return true
		}
	}
	return false
}

func matches(path, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(path, prefix)
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// violations walks the imports of each domain package breadth first and reports the
// shortest chain to each forbidden import, sorted.
func violations(graph map[string][]string, domain []string) []string {
	var out []string
	for _, pkg := range domain {
		prev := map[string]string{pkg: ""}
		queue := []string{pkg}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			for _, imp := range graph[p] {
				if _, seen := prev[imp]; !seen {
					prev[imp] = p
					queue = append(queue, imp)
				}
			}
		}
		for _, f := range forbidden {
			if slices.Contains(f.except, pkg) {
				continue
			}
			var hits []string
			for p := range prev {
				if matches(p, f.prefix) {
					hits = append(hits, p)
				}
			}
			if len(hits) == 0 {
				continue
			}
			// Report the hit nearest to pkg.
			best := ""
			var bestChain []string
			for _, h := range hits {
				chain := []string{h}
				for p := prev[h]; p != ""; p = prev[p] {
					chain = append([]string{p}, chain...)
				}
				if best == "" || len(chain) < len(bestChain) || (len(chain) == len(bestChain) && h < best) {
					best, bestChain = h, chain
				}
			}
			out = append(out, pkg+" imports "+f.prefix+" ("+f.why+"): "+strings.Join(bestChain, " -> "))
		}
	}
	slices.Sort(out)
	return out
}
