// Command benchinstance measures one sproudchat instance: start-up time to /readyz, idle
// memory, and request latency under load from this (second) process. Beside each figure
// it measures the floor in the same run: a bare net/http server (this binary re-executed
// with -floor-server) started, idled and loaded the same way. Figures go to a JSON file.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
)

type options struct {
	binary      string
	out         string
	starts      int
	requests    int
	concurrency int
	users       int
	burst       int
}

// binaryPath is the sproudchat binary under measurement.
var binaryPath *string

func main() {
	var o options
	floor := flag.String("floor-server", "", "internal: run the bare HTTP server on this address")
	flag.StringVar(&o.binary, "binary", "bin/sproudchat", "the sproudchat binary")
	binaryPath = &o.binary
	flag.IntVar(&o.burst, "burst", 20, "parallel wrong logins in the burst")
	only := flag.String("only", "", "run one part only: burst")
	flag.StringVar(&o.out, "out", "bench/results/instance.json", "where to write the figures")
	flag.IntVar(&o.starts, "starts", 10, "start-ups to time")
	flag.IntVar(&o.requests, "requests", 20000, "requests per load run")
	flag.IntVar(&o.concurrency, "concurrency", 16, "concurrent clients")
	flag.IntVar(&o.users, "users", 25, "users in the instance for GET /api/v1/users")
	flag.Parse()
	if *floor != "" {
		serveFloor(*floor)
		return
	}
	if *only == "burst" {
		dir, _ := os.MkdirTemp("", "benchinstance-")
		defer os.RemoveAll(dir)
		b, err := burst(dir, o.burst)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchinstance:", err)
			os.Exit(1)
		}
		out, _ := json.MarshalIndent(b, "", "  ")
		fmt.Println(string(out))
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "benchinstance:", err)
		os.Exit(1)
	}
}

// serveFloor is the baseline: the least a Go HTTP server answering /healthz can be.
func serveFloor(addr string) {
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	http.ListenAndServe(addr, nil)
}

type latency struct {
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	RPS        float64 `json:"requests_per_second"`
	Concurrent int     `json:"concurrency"`
}

type memory struct {
	VmRSSKB   int `json:"vm_rss_kb"`
	RssAnonKB int `json:"rss_anon_kb"`
	RssFileKB int `json:"rss_file_kb"`
}

type startup struct {
	Runs    int     `json:"runs"`
	P50Ms   float64 `json:"p50_ms"`
	MaxMs   float64 `json:"max_ms"`
	Comment string  `json:"comment"`
}

type results struct {
	Benchmark string            `json:"benchmark"`
	When      time.Time         `json:"when"`
	Machine   map[string]string `json:"machine"`
	Targets   map[string]string `json:"targets"`
	Instance  struct {
		ColdStart       startup    `json:"cold_start_to_readyz"`
		WarmStart       startup    `json:"warm_start_to_readyz"`
		IdleMemory      memory     `json:"idle_memory_after_startup"`
		MemoryAfterLoad memory     `json:"memory_after_load_and_login"`
		Healthz         latency    `json:"get_healthz"`
		UsersAuthorized latency    `json:"get_api_v1_users_bearer"`
		BinarySizeBytes int64      `json:"binary_size_bytes"`
		UsersInInstance int        `json:"users_in_instance"`
		LoginBurst      loginBurst `json:"login_burst"`
	} `json:"sproudchat_sqlite"`
	Floor struct {
		Start      startup `json:"start_to_healthz"`
		IdleMemory memory  `json:"idle_memory"`
		Healthz    latency `json:"get_healthz"`
	} `json:"floor_bare_net_http"`
	Verdict map[string]bool `json:"verdict"`
}

const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
const setupToken = "bench-setup-token-0123456789abcdef"

func run(o options) error {
	var r results
	r.Benchmark = "instance"
	r.When = time.Now().UTC()
	r.Machine = map[string]string{"cpus": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH}
	r.Targets = map[string]string{"idle_vm_rss": "<= 20 MB", "start_to_readyz": "<= 300 ms on SQLite",
		"login_burst_peak_vm_rss": "<= 90 MB", "login_burst_vm_rss_30s_after": "<= 30 MB"}
	if fi, err := os.Stat(o.binary); err != nil {
		return fmt.Errorf("binary %s: %w (run make build)", o.binary, err)
	} else {
		r.Instance.BinarySizeBytes = fi.Size()
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "benchinstance-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Floor: start, idle memory, load.
	floorTimes, floorProc, err := startTimes(o.starts, []string{self, "-floor-server"}, func(int) []string { return nil }, "/healthz")
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	r.Floor.Start = summarize(floorTimes, "bare net/http server exec → first 200")
	time.Sleep(2 * time.Second)
	r.Floor.IdleMemory = readMemory(floorProc.cmd.Process.Pid)
	r.Floor.Healthz = load(floorProc.base+"/healthz", nil, o.requests, o.concurrency)
	floorProc.stop()

	// sproudchat: cold starts (fresh data dir: creates and migrates the database).
	env := func(dir string) []string {
		return []string{"SPROUDCHAT_DATA_DIR=" + dir, "SPROUDCHAT_SECRET_KEY=" + key, "SPROUDCHAT_SETUP_TOKEN=" + setupToken}
	}
	cold, last, err := startTimes(o.starts, []string{o.binary}, func(i int) []string {
		return env(filepath.Join(tmp, fmt.Sprintf("cold-%d", i)))
	}, "/readyz")
	if err != nil {
		return fmt.Errorf("cold start: %w", err)
	}
	last.stop()
	r.Instance.ColdStart = summarize(cold, "exec → /readyz 200 on an empty data dir (creates and migrates the SQLite database)")
	warm, inst, err := startTimes(o.starts, []string{o.binary}, func(int) []string { return env(filepath.Join(tmp, "cold-0")) }, "/readyz")
	if err != nil {
		return fmt.Errorf("warm start: %w", err)
	}
	r.Instance.WarmStart = summarize(warm, "exec → /readyz 200 on an existing database")
	defer inst.stop()
	time.Sleep(2 * time.Second)
	r.Instance.IdleMemory = readMemory(inst.cmd.Process.Pid)

	token, err := prepare(inst.base, o.users)
	if err != nil {
		return err
	}
	r.Instance.UsersInInstance = o.users
	r.Instance.Healthz = load(inst.base+"/healthz", nil, o.requests, o.concurrency)
	r.Instance.UsersAuthorized = load(inst.base+"/api/v1/users", map[string]string{"Authorization": "Bearer " + token}, o.requests, o.concurrency)
	time.Sleep(2 * time.Second)
	r.Instance.MemoryAfterLoad = readMemory(inst.cmd.Process.Pid)

	if r.Instance.LoginBurst, err = burst(tmp, o.burst); err != nil {
		return fmt.Errorf("login burst: %w", err)
	}
	lb := r.Instance.LoginBurst
	r.Verdict = map[string]bool{
		"login_burst_peak_within_90MB":        lb.PeakDuringBurst.VmRSSKB <= 90*1024,
		"login_burst_back_within_30MB_in_30s": lb.After30s.VmRSSKB <= 30*1024,
		"idle_vm_rss_within_20MB":             r.Instance.IdleMemory.VmRSSKB <= 20*1024,
		"warm_start_within_300ms":             r.Instance.WarmStart.P50Ms <= 300,
		"cold_start_within_300ms":             r.Instance.ColdStart.P50Ms <= 300,
		"healthz_error_free":                  r.Instance.Healthz.Errors == 0,
		"users_endpoint_error_free":           r.Instance.UsersAuthorized.Errors == 0,
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	os.Stdout.Write(b)
	fmt.Println()
	return nil
}

// startTimes starts argv n times (the i-th with env(i)), timing each to its first 200 on
// path; it stops all but the last, which it returns running.
func startTimes(n int, argv []string, env func(int) []string, path string) ([]time.Duration, *process, error) {
	var (
		times []time.Duration
		last  *process
	)
	for i := 0; i < n; i++ {
		if last != nil {
			last.stop()
		}
		p, d, err := startAndWait(argv, env(i), path)
		if err != nil {
			return nil, nil, err
		}
		times, last = append(times, d), p
	}
	return times, last, nil
}

type process struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

func (p *process) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startAndWait starts argv and polls path every millisecond until it answers 200.
func startAndWait(argv, env []string, path string) (*process, time.Duration, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	if len(argv) == 2 && argv[1] == "-floor-server" {
		argv = append(argv, addr)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "SPROUDCHAT_LISTEN_ADDR=" + addr}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	p := &process{cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	go func() { cmd.Wait(); close(p.done) }()
	for time.Since(begin) < 30*time.Second {
		res, err := client.Get(p.base + path)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p, time.Since(begin), nil
			}
		}
		select {
		case <-p.done:
			return nil, 0, fmt.Errorf("%s exited: %s", argv[0], stderr.String())
		case <-time.After(time.Millisecond):
		}
	}
	p.stop()
	return nil, 0, fmt.Errorf("%s not ready in 30s", argv[0])
}

func summarize(ds []time.Duration, comment string) startup {
	ms := make([]float64, len(ds))
	for i, d := range ds {
		ms[i] = float64(d.Microseconds()) / 1000
	}
	sort.Float64s(ms)
	return startup{Runs: len(ms), P50Ms: pct(ms, 50), MaxMs: ms[len(ms)-1], Comment: comment}
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return round(sorted[i])
}

func round(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }

func readMemory(pid int) memory {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			m.VmRSSKB = n
		case "RssAnon:":
			m.RssAnonKB = n
		case "RssFile:":
			m.RssFileKB = n
		}
	}
	return m
}

// load sends n GET requests from c concurrent keep-alive clients, bounded to 60 s.
func load(url string, hdr map[string]string, n, c int) latency {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: c}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	var (
		mu    sync.Mutex
		ms    = make([]float64, 0, n)
		errs  int
		next  = make(chan struct{}, n)
		wg    sync.WaitGroup
		begin = time.Now()
	)
	for i := 0; i < n; i++ {
		next <- struct{}{}
	}
	close(next)
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if ctx.Err() != nil {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
				for k, v := range hdr {
					req.Header.Set(k, v)
				}
				t0 := time.Now()
				res, err := client.Do(req)
				ok := err == nil && res.StatusCode == 200
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				d := float64(time.Since(t0).Microseconds()) / 1000
				mu.Lock()
				if ok {
					ms = append(ms, d)
				} else {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin).Seconds()
	sort.Float64s(ms)
	l := latency{Requests: len(ms) + errs, Errors: errs, Concurrent: c, RPS: round(float64(len(ms)) / elapsed)}
	if len(ms) > 0 {
		l.P50Ms, l.P99Ms, l.MaxMs = pct(ms, 50), pct(ms, 99), round(ms[len(ms)-1])
	}
	return l
}

// prepare creates the admin and users-1 more, and returns an API token of the admin.
func prepare(base string, users int) (string, error) {
	call := func(method, path, token string, body any) (map[string]any, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %v", method, path, res.StatusCode, out)
		}
		return out, nil
	}
	if _, err := call("POST", "/api/v1/setup", "", map[string]string{"token": setupToken, "name": "Bench Admin", "email": "admin@bench.example", "password": "bench admin password"}); err != nil {
		return "", err
	}
	// A token needs a session: log in by cookie once, create the token with the CSRF header.
	jar := &cookieJar{}
	login, _ := json.Marshal(map[string]string{"email": "admin@bench.example", "password": "bench admin password"})
	res, err := http.Post(base+"/api/v1/session", "application/json", bytes.NewReader(login))
	if err != nil {
		return "", err
	}
	var sess struct {
		CSRF string `json:"csrf_token"`
	}
	json.NewDecoder(res.Body).Decode(&sess)
	res.Body.Close()
	jar.cookies = res.Cookies()
	req, _ := http.NewRequest("POST", base+"/api/v1/tokens", strings.NewReader(`{"name":"bench"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", sess.CSRF)
	for _, c := range jar.cookies {
		req.AddCookie(c)
	}
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	var tok struct {
		Token string `json:"token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if tok.Token == "" {
		return "", fmt.Errorf("create token: %d", res.StatusCode)
	}
	for i := 1; i < users; i++ {
		if _, err := call("POST", "/api/v1/users", tok.Token, map[string]string{"name": fmt.Sprintf("Agent %d", i),
			"email": fmt.Sprintf("agent%d@bench.example", i), "role": "agent", "password": "bench agent password"}); err != nil {
			return "", err
		}
	}
	return tok.Token, nil
}

type cookieJar struct{ cookies []*http.Cookie }
