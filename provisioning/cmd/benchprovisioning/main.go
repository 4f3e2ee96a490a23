// Command benchprovisioning measures the Docker runtime: Apply → ready for starter
// instances beside the bare Docker Engine calls for the same network, volume and
// container with the same image (the floor, measured in the same run, interleaved),
// the idle memory of one instance as the engine reports it, and how many instances the
// machine holds before Apply slows past twice its first pace. Figures go to JSON.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/docker"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

type dist struct {
	Runs  int     `json:"runs"`
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	MaxMs float64 `json:"max_ms"`
}

type results struct {
	Benchmark string            `json:"benchmark"`
	When      time.Time         `json:"when"`
	Machine   map[string]string `json:"machine"`
	Image     string            `json:"image"`
	Targets   map[string]string `json:"targets"`
	Apply     dist              `json:"apply_to_ready"`
	Floor     struct {
		EngineCalls dist `json:"engine_calls_network_volume_container_start"`
		AppStartup  dist `json:"app_startup_start_to_readyz"`
		Total       dist `json:"total_to_readyz"`
	} `json:"floor_bare_docker"`
	Ratio struct {
		ApplyP50OverFloorTotalP50 float64 `json:"apply_p50_over_floor_total_p50"`
		Budget                    float64 `json:"budget_ms_1_25x_calls_plus_app_startup"`
		WithinBudget              bool    `json:"apply_p50_within_budget"`
	} `json:"ratio"`
	IdleMemory struct {
		UsageBytes           uint64 `json:"usage_bytes"`
		UsageMinusCacheBytes uint64 `json:"usage_minus_inactive_file_bytes"`
		Comment              string `json:"comment"`
	} `json:"idle_memory_one_instance"`
	Density struct {
		Target            int       `json:"instances_tried"`
		Held              int       `json:"instances_running"`
		SlowedPast2xAt    int       `json:"apply_slowed_past_2x_at"` // 0: never within Target
		FirstTenP50Ms     float64   `json:"first_ten_apply_p50_ms"`
		LastTenP50Ms      float64   `json:"last_ten_apply_p50_ms"`
		HostMemPerInstMiB float64   `json:"host_memory_per_instance_mib"`
		ApplyMs           []float64 `json:"apply_ms_each"`
	} `json:"density"`
}

func main() {
	n := flag.Int("n", 12, "instances for the latency figures (≥ 10)")
	density := flag.Int("density", 200, "instances for the density run (0 skips it)")
	out := flag.String("out", "bench/results/provisioning.json", "where to write the figures")
	image := flag.String("image", "", "app image (default: build sproudchat/app:bench)")
	flag.Parse()
	if err := run(*n, *density, *out, *image); err != nil {
		fmt.Fprintln(os.Stderr, "benchprovisioning:", err)
		os.Exit(1)
	}
}

func run(n, density int, out, image string) error {
	ctx := context.Background()
	var r results
	r.Benchmark, r.When = "provisioning", time.Now().UTC()
	r.Machine = map[string]string{"cpus": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version()}
	r.Targets = map[string]string{"apply": "p50 <= 1.25 x bare engine calls + the app's own start-up", "density": ">= 200 starter instances before Apply slows past 2x"}
	if image == "" {
		b, err := exec.Command("bash", "scripts/build-images.sh", "bench").Output()
		if err != nil {
			return fmt.Errorf("build image (run from the repository root): %w", err)
		}
		image = strings.TrimSpace(string(b))
	}
	r.Image = image
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	rt, err := docker.New(docker.Options{Owner: "bench"})
	if err != nil {
		return err
	}
	plans, err := template.LoadDir("templates")
	if err != nil {
		return err
	}
	starter := plans["starter"]
	defer cleanup(ctx, cli, rt)

	spec := func(prefix string) provisioning.Spec {
		id, slug := runtimetest.Unique("bench-" + prefix)
		s, err := starter.Render(template.Instance{ID: id, Slug: slug, BaseURL: "http://" + slug + ".localhost",
			Secrets: map[string]string{"SPROUDCHAT_SECRET_KEY": strings.Repeat("ab", 32)}}, template.Options{Version: "bench"})
		if err != nil {
			panic(err)
		}
		s.App.Image = image
		return s
	}

	// Latency, interleaved: floor, ours, floor, ours …
	var apply, calls, appStart, total []float64
	var keep []string
	for i := 0; i < n; i++ {
		cd, ad, err := runtimetest.DockerFloor(ctx, cli, image, spec("floor"))
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		c, a := ms(cd), ms(ad)
		calls, appStart, total = append(calls, c), append(appStart, a), append(total, c+a)
		s := spec("apply")
		t0 := time.Now()
		if _, err := rt.Apply(ctx, s); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		apply = append(apply, ms(time.Since(t0)))
		keep = append(keep, s.ID)
	}
	r.Apply, r.Floor.EngineCalls, r.Floor.AppStartup, r.Floor.Total = summarize(apply), summarize(calls), summarize(appStart), summarize(total)
	r.Ratio.ApplyP50OverFloorTotalP50 = round(r.Apply.P50Ms / r.Floor.Total.P50Ms)
	r.Ratio.Budget = round(1.25*r.Floor.EngineCalls.P50Ms + r.Floor.AppStartup.P50Ms)
	r.Ratio.WithinBudget = r.Apply.P50Ms <= r.Ratio.Budget

	// Idle memory of one instance, after it settled.
	time.Sleep(5 * time.Second)
	if u, c, err := memory(ctx, cli, keep[0]); err == nil {
		r.IdleMemory.UsageBytes, r.IdleMemory.UsageMinusCacheBytes = u, c
		r.IdleMemory.Comment = "docker stats of one idle starter app container (cgroup memory usage; minus inactive file cache as docker stats shows it)"
	}
	for _, id := range keep {
		rt.Destroy(ctx, id)
	}

	if density > 0 {
		memBefore := memAvailable()
		r.Density.Target = density
		for i := 0; i < density; i++ {
			s := spec("dense")
			t0 := time.Now()
			if _, err := rt.Apply(ctx, s); err != nil {
				fmt.Fprintf(os.Stderr, "apply %d failed: %v\n", i, err)
				break
			}
			d := ms(time.Since(t0))
			r.Density.ApplyMs = append(r.Density.ApplyMs, d)
			r.Density.Held = i + 1
			if (i+1)%25 == 0 {
				fmt.Fprintf(os.Stderr, "density: %d instances, last apply %.0f ms\n", i+1, d)
			}
		}
		time.Sleep(5 * time.Second)
		if r.Density.Held > 0 {
			r.Density.HostMemPerInstMiB = round(float64(memBefore-memAvailable()) / float64(r.Density.Held) / 1024)
		}
		a := r.Density.ApplyMs
		if len(a) >= 20 {
			r.Density.FirstTenP50Ms = summarize(a[:10]).P50Ms
			r.Density.LastTenP50Ms = summarize(a[len(a)-10:]).P50Ms
			for i := 10; i+5 <= len(a); i++ {
				if summarize(a[i:i+5]).P50Ms > 2*r.Density.FirstTenP50Ms {
					r.Density.SlowedPast2xAt = i + 1
					break
				}
			}
		}
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	os.Stdout.Write(append(b, '\n'))
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

func memory(ctx context.Context, cli *client.Client, id string) (uint64, uint64, error) {
	cs, err := cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", docker.LabelInstance+"="+id))})
	if err != nil || len(cs) == 0 {
		return 0, 0, fmt.Errorf("no container for %s: %v", id, err)
	}
	st, err := cli.ContainerStatsOneShot(ctx, cs[0].ID)
	if err != nil {
		return 0, 0, err
	}
	defer st.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(st.Body).Decode(&s); err != nil {
		return 0, 0, err
	}
	inactive := s.MemoryStats.Stats["total_inactive_file"]
	if v, ok := s.MemoryStats.Stats["inactive_file"]; ok {
		inactive = v
	}
	return s.MemoryStats.Usage, s.MemoryStats.Usage - inactive, nil
}

// cleanup destroys every instance the bench made and every floor object, four at a time.
func cleanup(ctx context.Context, cli *client.Client, rt *docker.Runtime) {
	all, _ := rt.List(ctx)
	ids := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				rt.Destroy(ctx, id)
			}
		}()
	}
	for _, st := range all {
		if strings.HasPrefix(st.ID, "bench-") {
			ids <- st.ID
		}
	}
	close(ids)
	wg.Wait()
	f := filters.NewArgs(filters.Arg("label", runtimetest.FloorLabel))
	cs, _ := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	for _, c := range cs {
		cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
	vs, _ := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	for _, v := range vs.Volumes {
		cli.VolumeRemove(ctx, v.Name, true)
	}
	ns, _ := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	for _, n := range ns {
		cli.NetworkRemove(ctx, n.ID)
	}
}

func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == "MemAvailable:" {
			v, _ := strconv.ParseInt(fields[1], 10, 64)
			return v
		}
	}
	return 0
}

func ms(d time.Duration) float64 { return round(float64(d.Microseconds()) / 1000) }

func round(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

func summarize(v []float64) dist {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	p := func(q float64) float64 { return s[int(float64(len(s)-1)*q)] }
	return dist{Runs: len(s), P50Ms: p(0.5), P95Ms: p(0.95), MaxMs: s[len(s)-1]}
}
