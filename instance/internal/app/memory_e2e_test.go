package app

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// rssAnonKB reads a process's private resident memory (RssAnon: what N instances on one
// host do not share) from /proc.
func rssAnonKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatalf("RssAnon line %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no RssAnon in /proc/%d/status", pid)
	return 0
}

// TestPrivateMemoryStaysBoundedUnderDatabaseTraffic runs the real binary on SQLite and
// sends it a few thousand reads that each prepare and finalize SQLite statements (ticket
// and KB searches with queries of every length, the user list, /readyz): the same churn
// the background workers cause at idle, only faster. What SQLite frees must be reused.
// The C allocator under modernc.org/sqlite used to hand out a fresh slot of a 1 MiB page
// for every allocation until the page was full, so the churn alone grew the instance's
// private memory by about 10 MB (an idle instance got there within the hour); with the
// allocator reusing freed slots, and after a warm-up, the growth is what little of the
// Go heap's and SQLite's working set the warm-up had not reached.
func TestPrivateMemoryStaysBoundedUnderDatabaseTraffic(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	bin := binary(t)
	setupToken := "e2e-setup-token-0123456789abcdef"
	password := "e2e admin password"
	p := start(t, []string{"SPROUDCHAT_DATA_DIR=" + t.TempDir(), "SPROUDCHAT_SECRET_KEY=" + testKey, "SPROUDCHAT_SETUP_TOKEN=" + setupToken}, bin)
	c := newClient(t, p.base)
	if code, out := c.Call("POST", "/api/v1/setup", map[string]string{"token": setupToken, "name": "Ada", "email": "ada@example.org", "password": password}); code != 201 {
		t.Fatalf("setup: %d %v", code, out)
	}
	c.Login("ada@example.org", password)
	get := func(path string) {
		t.Helper()
		if code, _ := c.Page(path); code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, code)
		}
	}

	churn := func(n int) {
		t.Helper()
		for i := range n {
			q := url.QueryEscape(strings.Repeat("ab ", 1+i%60))
			switch i % 4 {
			case 0:
				get("/api/v1/tickets?q=" + q)
			case 1:
				get("/api/v1/kb/search?q=" + q)
			case 2:
				get("/api/v1/users")
			case 3:
				get("/readyz")
			}
		}
	}
	// A warm-up lets the Go heap reach its working size (twice the live heap, which
	// grows with what the instance holds, e.g. the message catalogs) before the
	// baseline: what is measured is then what the churn keeps, which a leak makes grow
	// with the number of requests.
	churn(1000)
	before := rssAnonKB(t, p.cmd.Process.Pid)
	const requests = 4000
	churn(requests)
	after := rssAnonKB(t, p.cmd.Process.Pid)
	const limitKB = 3 << 10
	t.Logf("private memory %d KB after the warm-up, %d KB after %d more requests", before, after, requests)
	if grown := after - before; grown > limitKB {
		t.Errorf("private memory grew by %d KB over %d requests (%d KB → %d KB), want at most %d KB", grown, requests, before, after, limitKB)
	}
	p.stop(t)
}
