package process

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/testkit/poll"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// vmRSSKB reads a process's resident memory in KiB.
func vmRSSKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			var kb int
			fmt.Sscan(f[1], &kb)
			return kb
		}
	}
	t.Fatal("no VmRSS in /proc/pid/status")
	return 0
}

// TestMemoryReturnsAfterALoginBurst: the process runtime sets no memory limit, so what
// a burst of logins takes must come back by itself. After setup, one login and twenty
// wrong logins at once, the instance's resident memory is under 30 MB again within 30 s
// (it stayed at 266 MB when twelve hashes ran at once and nothing returned their pages).
func TestMemoryReturnsAfterALoginBurst(t *testing.T) {
	r := newRuntime(t, t.TempDir(), nil)
	spec, st := mustApply(t, r, "burst")
	pids := processesOf(r.dataDir(spec.ID))
	if len(pids) != 1 {
		t.Fatalf("processes %v, want one", pids)
	}
	base := "http://" + st.Upstream
	runtimetest.SetupAndLogin(t, base, spec)
	statuses, errs := runtimetest.BadLogins(base, 20)
	runtimetest.CheckLoginAnswers(t, statuses, errs)
	const limitKB = 30 * 1024
	var kb int
	defer func() { t.Logf("answers %v; VmRSS %d KiB after the burst (want under %d)", statuses, kb, limitKB) }()
	poll.EventuallyWithin(t, 30*time.Second, "VmRSS back under the limit after the burst", func() bool {
		kb = vmRSSKB(t, pids[0])
		return kb < limitKB
	})
}
