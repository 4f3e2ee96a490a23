package docker

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// TestLoginBurstDoesNotKillAStarterInstance: twenty wrong logins at once against a
// starter container (128 MiB) leave it running: not OOM-killed, never restarted, ready
// throughout, every answer 401, 429 or 503. Each login hashes with argon2id's 19 MiB;
// unbounded, six to twelve at once got the container OOM-killed.
func TestLoginBurstDoesNotKillAStarterInstance(t *testing.T) {
	h := harness(t, nil)
	c := mustClient(t)
	spec, st := apply(t, h, "burst")
	if spec.App.Resources.MemoryBytes != 128<<20 {
		t.Fatalf("the test spec's memory is %d, want the starter plan's 128 MiB", spec.App.Resources.MemoryBytes)
	}
	base := "http://" + st.Upstream
	// The Go runtime knows the container's limit (90% of it) and sizes the gate from it.
	logs, err := h.Runtime.Logs(context.Background(), spec.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"memory_limit_bytes":%d,"password_hashes_at_once":`, uint64(float64(spec.App.Resources.MemoryBytes)*0.9)); !strings.Contains(logs, want) {
		t.Fatalf("the instance's start-up log lacks %s:\n%s", want, logs)
	}
	runtimetest.SetupAndLogin(t, base, spec)

	// /readyz throughout the burst and a little after.
	stop := make(chan struct{})
	var probes, unready atomic.Int32
	var firstUnready atomic.Value
	var probing sync.WaitGroup
	probing.Add(1)
	go func() {
		defer probing.Done()
		cli := &http.Client{Timeout: 2 * time.Second}
		for {
			res, err := cli.Get(base + "/readyz")
			probes.Add(1)
			if err == nil {
				res.Body.Close()
			}
			if err != nil || res.StatusCode != 200 {
				if unready.Add(1) == 1 {
					firstUnready.Store(fmt.Sprint(err, res))
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	statuses, errs := runtimetest.BadLogins(base, 20)
	time.Sleep(time.Second) // a last round of readiness probes after the burst
	close(stop)
	probing.Wait()

	in, err := c.ContainerInspect(context.Background(), appName(spec.Slug))
	if err != nil {
		t.Fatal(err)
	}
	if in.State.OOMKilled || in.RestartCount != 0 || !in.State.Running {
		t.Fatalf("after the burst: OOMKilled %v, restarts %d, running %v", in.State.OOMKilled, in.RestartCount, in.State.Running)
	}
	runtimetest.CheckLoginAnswers(t, statuses, errs)
	if n := unready.Load(); n > 0 {
		t.Fatalf("/readyz failed %d of %d times during the burst; first: %v", n, probes.Load(), firstUnready.Load())
	}
	t.Logf("answers %v; /readyz 200 on all %d probes", statuses, probes.Load())
}
