package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// loginBurst is what a burst of wrong logins does to an instance's memory: argon2id
// takes 19 MiB per running hash, so the gate on hashes decides the peak.
type loginBurst struct {
	Comment          string         `json:"comment"`
	Parallel         int            `json:"parallel_bad_logins"`
	AfterSetupLogin  memory         `json:"memory_after_setup_and_one_login"`
	PeakDuringBurst  memory         `json:"peak_memory_during_burst"`
	After30s         memory         `json:"memory_30s_after_burst"`
	SecondsToUnder30 float64        `json:"seconds_until_vm_rss_under_30MB"`
	Statuses         map[string]int `json:"statuses"`
	P50Ms            float64        `json:"login_p50_ms"`
	P99Ms            float64        `json:"login_p99_ms"`
	MaxMs            float64        `json:"login_max_ms"`
}

// burst starts a fresh instance, sets it up, logs in once, then sends n wrong logins at
// once (unknown addresses, so each costs a full hash), sampling memory every 5 ms.
func burst(dir string, n int) (loginBurst, error) {
	b := loginBurst{Parallel: n, Statuses: map[string]int{}, Comment: "a fresh instance on SQLite, no memory limit (as the process runtime runs it): " +
		"setup, one login, then n parallel POST /api/v1/session with unknown e-mails; VmRSS sampled every 5 ms during the burst and once a second after"}
	p, _, err := startAndWait([]string{*binaryPath}, []string{"SPROUDCHAT_DATA_DIR=" + filepath.Join(dir, "burst"), "SPROUDCHAT_SECRET_KEY=" + key,
		"SPROUDCHAT_SETUP_TOKEN=" + setupToken}, "/readyz")
	if err != nil {
		return b, err
	}
	defer p.stop()
	if _, err := prepare(p.base, 1); err != nil {
		return b, err
	}
	time.Sleep(2 * time.Second)
	b.AfterSetupLogin = readMemory(p.cmd.Process.Pid)

	stop := make(chan struct{})
	sampled := make(chan memory)
	go func() {
		var peak memory
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if m := readMemory(p.cmd.Process.Pid); m.VmRSSKB > peak.VmRSSKB {
				peak = m
			}
			select {
			case <-stop:
				sampled <- peak
				return
			case <-t.C:
			}
		}
	}()
	var (
		mu  sync.Mutex
		ms  []float64
		wg  sync.WaitGroup
		cli = &http.Client{Timeout: 30 * time.Second}
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]string{"email": fmt.Sprintf("nobody%d@bench.example", i), "password": "wrong password 123"})
			start := time.Now()
			res, err := cli.Post(p.base+"/api/v1/session", "application/json", bytes.NewReader(body))
			d := float64(time.Since(start).Microseconds()) / 1000
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				b.Statuses["error"]++
				return
			}
			res.Body.Close()
			b.Statuses[fmt.Sprint(res.StatusCode)]++
			ms = append(ms, d)
		}()
	}
	wg.Wait()
	close(stop)
	b.PeakDuringBurst = <-sampled
	sort.Float64s(ms)
	if len(ms) > 0 {
		b.P50Ms, b.P99Ms, b.MaxMs = pct(ms, 50), pct(ms, 99), round(ms[len(ms)-1])
	}
	end := time.Now()
	b.SecondsToUnder30 = -1
	for time.Since(end) < 30*time.Second {
		m := readMemory(p.cmd.Process.Pid)
		if b.SecondsToUnder30 < 0 && m.VmRSSKB < 30*1024 {
			b.SecondsToUnder30 = round(time.Since(end).Seconds())
		}
		time.Sleep(time.Second)
	}
	b.After30s = readMemory(p.cmd.Process.Pid)
	return b, nil
}
