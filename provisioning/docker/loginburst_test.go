package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
	post := func(path string, body any) (int, error) {
		b, _ := json.Marshal(body)
		res, err := http.Post(base+path, "application/json", bytes.NewReader(b))
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	if code, err := post("/api/v1/setup", map[string]string{"token": spec.Secrets["SPROUDCHAT_SETUP_TOKEN"], "name": "Ada",
		"email": "ada@example.org", "password": "a long admin password"}); err != nil || code != 201 {
		t.Fatalf("setup: %d %v", code, err)
	}
	if code, err := post("/api/v1/session", map[string]string{"email": "ada@example.org", "password": "a long admin password"}); err != nil || code != 200 {
		t.Fatalf("login: %d %v", code, err)
	}

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

	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		errs     []error
		wg       sync.WaitGroup
	)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, err := post("/api/v1/session", map[string]string{"email": fmt.Sprintf("nobody%d@example.org", i), "password": "wrong password 123"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			statuses[code]++
		}()
	}
	wg.Wait()
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
	if len(errs) > 0 {
		t.Fatalf("%d logins got no answer: %v", len(errs), errs[0])
	}
	for code, n := range statuses {
		if code != 401 && code != 429 && code != 503 {
			t.Errorf("%d logins answered %d", n, code)
		}
	}
	if statuses[401] == 0 {
		t.Errorf("no login was checked at all: %v", statuses)
	}
	if n := unready.Load(); n > 0 {
		t.Fatalf("/readyz failed %d of %d times during the burst; first: %v", n, probes.Load(), firstUnready.Load())
	}
	t.Logf("answers %v; /readyz 200 on all %d probes", statuses, probes.Load())
}
