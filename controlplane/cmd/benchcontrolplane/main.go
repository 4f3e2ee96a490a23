// Command benchcontrolplane measures the control plane through its API with the real
// sproudctl binary: create → active on Docker beside the bare-Docker floor measured in
// the same run, suspend and resume latency, and GET /v1/instances/{id} under load from
// this (second) process with 1,000 instances in the store. Figures go to JSON.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/client"

	cpclient "github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

type dist struct {
	Runs  int     `json:"runs"`
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func summarize(v []float64) dist {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	p := func(q float64) float64 { return round(s[int(float64(len(s)-1)*q)]) }
	return dist{Runs: len(s), P50Ms: p(0.5), P95Ms: p(0.95), P99Ms: p(0.99), MaxMs: round(s[len(s)-1])}
}

func round(f float64) float64    { return float64(int64(f*1000+0.5)) / 1000 }
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// getLoad is GET /v1/instances/{id} at one concurrency: 4 clients measure latency under
// a steady load, 16 saturate this 2-core machine (which the load generator shares).
type getLoad struct {
	Concurrency int     `json:"concurrency"`
	RPS         float64 `json:"requests_per_second"`
	Errors      int     `json:"errors"`
	dist
}

type results struct {
	Benchmark string            `json:"benchmark"`
	When      time.Time         `json:"when"`
	Machine   map[string]string `json:"machine"`
	Targets   map[string]string `json:"targets"`
	Create    dist              `json:"create_to_active_via_api_docker"`
	Floor     dist              `json:"floor_bare_docker_to_readyz"`
	Ratio     float64           `json:"create_p50_over_floor_p50"`
	Suspend   dist              `json:"suspend_to_suspended"`
	Resume    dist              `json:"resume_to_active"`
	Instances int               `json:"instances_in_store"`
	Get       []getLoad         `json:"get_instance_under_load"`
	Verdict   map[string]bool   `json:"verdict"`
}

func main() {
	ctl := flag.String("sproudctl", "bin/sproudctl", "the sproudctl binary")
	app := flag.String("sproudchat", "bin/sproudchat", "the sproudchat binary")
	n := flag.Int("n", 12, "instances for the latency figures")
	out := flag.String("out", "bench/results/controlplane.json", "where to write the figures")
	flag.Parse()
	if err := run(*ctl, *app, *n, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchcontrolplane:", err)
		os.Exit(1)
	}
}

type serve struct {
	cmd  *exec.Cmd
	api  string
	done chan struct{}
}

func freeAddr() string {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	return l.Addr().String()
}

func startServe(ctl, app, dir, rt, image string) (*serve, error) {
	s := &serve{api: freeAddr(), done: make(chan struct{})}
	s.cmd = exec.Command(ctl, "serve", "--runtime", rt, "--data-dir", dir, "--templates", "templates", "--api-addr", s.api,
		"--edge-addr", freeAddr(), "--instance-binary", app, "--app-version", strings.TrimPrefix(image, "sproudchat/app:"))
	var logs bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &logs, &logs
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	for i := 0; i < 500; i++ {
		if res, err := http.Get("http://" + s.api + "/healthz"); err == nil {
			res.Body.Close()
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("serve did not start: %s", logs.String())
}

func (s *serve) stop() { s.cmd.Process.Signal(os.Interrupt); <-s.done }

// waitState polls every 2 ms until the instance reaches state.
func waitState(ctx context.Context, c *cpclient.Client, id, state string) error {
	for {
		inst, err := c.Instance(ctx, id)
		if err != nil {
			return err
		}
		if inst.State == state {
			return nil
		}
		if inst.State == "failed" {
			return fmt.Errorf("%s failed: %s", id, inst.LastError)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func run(ctl, app string, n int, out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	r := results{Benchmark: "controlplane", When: time.Now().UTC(),
		Machine: map[string]string{"cpus": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version()},
		Targets: map[string]string{"create": "p50 <= 1.3 x the bare-Docker floor", "get": "p99 <= 5 ms with 1,000 instances"}}
	b, err := exec.Command("bash", "scripts/build-images.sh", "bench").Output()
	if err != nil {
		return fmt.Errorf("build image (run from the repository root): %w", err)
	}
	image := strings.TrimSpace(string(b))
	dir, _ := os.MkdirTemp("", "benchcp-")
	defer os.RemoveAll(dir)
	tokOut, err := exec.Command(ctl, "token", "create", "--name", "bench", "--scopes", "admin", "--data-dir", dir, "-o", "json").Output()
	if err != nil {
		return err
	}
	var tok cpclient.Token
	json.Unmarshal(tokOut, &tok)

	srv, err := startServe(ctl, app, dir, "docker", image)
	if err != nil {
		return err
	}
	c := cpclient.New("http://"+srv.api, tok.Token)
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	plans, err := template.LoadDir("templates")
	if err != nil {
		return err
	}
	var create, floor, suspend, resume []float64
	var ids []string
	for i := 0; i < n; i++ {
		_, slug := runtimetest.Unique("benchcp")
		spec, _ := plans["starter"].Render(template.Instance{ID: slug, Slug: slug, BaseURL: "http://x.localhost",
			Secrets: map[string]string{"SPROUDCHAT_SECRET_KEY": strings.Repeat("cd", 32)}}, template.Options{Version: "bench"})
		cd, ad, err := runtimetest.DockerFloor(ctx, cli, image, spec)
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		floor = append(floor, ms(cd+ad))
		t0 := time.Now()
		inst, err := c.CreateInstance(ctx, cpclient.CreateInstance{CustomerID: "bench", Slug: "c" + slug, Plan: "starter", AdminEmail: "b@example.org"}, "")
		if err != nil {
			return err
		}
		if err := waitState(ctx, c, inst.ID, "active"); err != nil {
			return err
		}
		create = append(create, ms(time.Since(t0)))
		ids = append(ids, inst.ID)
	}
	for _, id := range ids {
		t0 := time.Now()
		if _, err := c.Suspend(ctx, id, "bench"); err != nil {
			return err
		}
		if err := waitState(ctx, c, id, "suspended"); err != nil {
			return err
		}
		suspend = append(suspend, ms(time.Since(t0)))
		t0 = time.Now()
		if _, err := c.Resume(ctx, id); err != nil {
			return err
		}
		if err := waitState(ctx, c, id, "active"); err != nil {
			return err
		}
		resume = append(resume, ms(time.Since(t0)))
	}
	for _, id := range ids {
		c.Destroy(ctx, id)
	}
	for _, id := range ids {
		waitState(ctx, c, id, "destroyed")
	}
	srv.stop()
	r.Create, r.Floor, r.Suspend, r.Resume = summarize(create), summarize(floor), summarize(suspend), summarize(resume)
	r.Ratio = round(r.Create.P50Ms / r.Floor.P50Ms)

	// 1,000 settled instances in the store, then GET under load.
	if err := seed(ctx, dir, 1000); err != nil {
		return err
	}
	srv, err = startServe(ctl, app, dir, "process", image)
	if err != nil {
		return err
	}
	defer srv.stop()
	all, err := listAll(ctx, cpclient.New("http://"+srv.api, tok.Token))
	if err != nil || len(all) == 0 {
		return fmt.Errorf("list seeded instances: %d, %v", len(all), err)
	}
	r.Instances = len(all)
	r.Verdict = map[string]bool{"create_within_1_3x_floor": r.Ratio <= 1.3}
	for _, conc := range []int{4, 16} {
		lat, errs, rps := load(ctx, "http://"+srv.api, tok.Token, all, 20000, conc)
		g := getLoad{Concurrency: conc, RPS: rps, Errors: errs, dist: summarize(lat)}
		r.Get = append(r.Get, g)
		r.Verdict[fmt.Sprintf("get_p99_within_5ms_at_concurrency_%d", conc)] = g.P99Ms <= 5
		r.Verdict[fmt.Sprintf("get_error_free_at_concurrency_%d", conc)] = errs == 0
	}
	js, _ := json.MarshalIndent(r, "", "  ")
	os.MkdirAll(filepath.Dir(out), 0o755)
	os.Stdout.Write(append(js, '\n'))
	return os.WriteFile(out, append(js, '\n'), 0o644)
}

// seed writes settled instances straight into the store, as a long-lived control plane
// would have them.
func seed(ctx context.Context, dir string, n int) error {
	db, err := store.Open(ctx, "", filepath.Join(dir, "sproudctl.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	st := store.New(db)
	now := time.Now().UTC()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("inseed%05d", i)
		inst := lifecycle.Instance{ID: id, CustomerID: fmt.Sprintf("cus_%d", i%97), Slug: fmt.Sprintf("seed-%05d", i), Plan: "starter",
			State: lifecycle.Active, Desired: lifecycle.WantActive, NextAttempt: now, CreatedAt: now, UpdatedAt: now}
		if err := st.CreateInstance(ctx, inst, nil, lifecycle.Event{InstanceID: id, Type: lifecycle.EventCreated, At: now}, nil); err != nil {
			return err
		}
	}
	return nil
}

func listAll(ctx context.Context, c *cpclient.Client) ([]string, error) {
	var ids []string
	cursor := ""
	for {
		page, err := c.ListInstances(ctx, cpclient.ListOptions{Cursor: cursor, Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, i := range page.Items {
			ids = append(ids, i.ID)
		}
		if page.NextCursor == "" {
			return ids, nil
		}
		cursor = page.NextCursor
	}
}

// load sends n GETs of random instances from c workers, bounded to 60 s.
func load(ctx context.Context, base, token string, ids []string, n, c int) ([]float64, int, float64) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: c}
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var (
		mu   sync.Mutex
		lat  []float64
		errs int
		wg   sync.WaitGroup
	)
	jobs := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	begin := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/instances/"+ids[rand.IntN(len(ids))], nil)
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				res, err := hc.Do(req)
				ok := err == nil && res.StatusCode == 200
				if err == nil {
					res.Body.Close()
				}
				d := ms(time.Since(t0))
				mu.Lock()
				if ok {
					lat = append(lat, d)
				} else {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lat, errs, round(float64(len(lat)) / time.Since(begin).Seconds())
}
