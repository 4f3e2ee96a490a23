// Command benchbackup measures backups the way the control plane takes them: the real
// `sproudchat backup` streaming a snapshot of a large instance (100,000 tickets, 1 GiB of
// attachments by default) into the vault (chunked, zstd, age, at a file target), a
// second backup after one new ticket, and a restore through `sproudchat restore` — beside
// the floor measured in the same run on the same data dir: tar | zstd | age into one
// file, and its decrypt + extract. Figures go to JSON.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/platform/clock"
)

type step struct {
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes,omitempty"`
	// MBPerSecond is the data dir's size over the time taken.
	MBPerSecond float64 `json:"mb_per_second,omitempty"`
}

type results struct {
	Benchmark string            `json:"benchmark"`
	When      time.Time         `json:"when"`
	Machine   map[string]string `json:"machine"`
	Data      map[string]any    `json:"data"`
	Targets   map[string]string `json:"targets"`
	// The floor: tar | zstd | age of the data dir into one file, and back.
	FloorBackup  step `json:"floor_tar_zstd_age"`
	FloorRestore step `json:"floor_decrypt_extract"`
	First        step `json:"first_backup"`
	Second       step `json:"second_backup_one_new_ticket"`
	Restore      step `json:"restore"`
	Ratios       struct {
		FirstOverFloor        float64 `json:"first_backup_time_over_floor"`
		SecondBytesOverFirst  float64 `json:"second_backup_bytes_over_first"`
		RestoreOverFloor      float64 `json:"restore_time_over_floor_decrypt_extract"`
		StoredBytesOverFloor  float64 `json:"first_backup_bytes_over_floor_bytes"`
		FirstObjects          int     `json:"first_backup_objects"`
		SecondObjects         int     `json:"second_backup_new_objects"`
		DataDirBytes          int64   `json:"data_dir_bytes"`
		TargetBytesAfterTwo   int64   `json:"target_bytes_after_two_backups"`
		FloorBytesForTwoDaily int64   `json:"floor_bytes_for_two_daily_archives"`
	} `json:"ratios"`
	Verdict map[string]bool `json:"verdict"`
}

func main() {
	app := flag.String("sproudchat", "bin/sproudchat", "the sproudchat binary")
	seeder := flag.String("benchdata", "bin/benchdata", "the benchdata binary (instance/cmd/benchdata)")
	out := flag.String("out", "bench/results/backups.json", "where to write the figures")
	tickets := flag.Int("tickets", 100_000, "tickets in the instance")
	attBytes := flag.Int64("attachment-bytes", 1<<30, "attachment bytes in the instance")
	cpuProfile := flag.String("cpuprofile", "", "diagnosis: write a CPU profile of the first backup here")
	work := flag.String("work", "", "working directory (default: a temporary one, removed after)")
	reuse := flag.Bool("reuse", false, "reuse the data dir an earlier run seeded in -work (its figures are then for that run's sizes)")
	flag.Parse()
	if *reuse && *work == "" {
		fmt.Fprintln(os.Stderr, "benchbackup: -reuse needs -work")
		os.Exit(2)
	}
	if err := run(context.Background(), *app, *seeder, *out, *work, *tickets, *attBytes, *reuse, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "benchbackup:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, app, seeder, out, work string, tickets int, attBytes int64, reuse bool, cpuProfile string) error {
	if work == "" {
		d, err := os.MkdirTemp("", "benchbackup-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	data := filepath.Join(work, "data")
	// Whatever an earlier run in work left but the seeded data.
	for _, d := range []string{"target", "restored", "floor-restored", "floor.tar.zst.age"} {
		if err := os.RemoveAll(filepath.Join(work, d)); err != nil {
			return err
		}
	}
	if _, err := os.Stat(data); reuse && err == nil {
		fmt.Fprintf(os.Stderr, "reusing %s\n", data)
	} else {
		fmt.Fprintf(os.Stderr, "seeding %s: %d tickets, %d attachment bytes\n", data, tickets, attBytes)
		if err := command(seeder, "-dir", data, "-tickets", fmt.Sprint(tickets), "-attachment-bytes", fmt.Sprint(attBytes)); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	size, err := dirSize(data)
	if err != nil {
		return err
	}
	dropCaches(data)

	cp, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	r := results{Benchmark: "backups", When: time.Now().UTC(), Machine: map[string]string{
		"goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version()},
		Data: map[string]any{"tickets": tickets, "attachment_bytes": attBytes, "data_dir_bytes": size},
		Targets: map[string]string{
			"first_backup_time":   "≤ 1.5 × the floor's tar | zstd | age",
			"second_backup_bytes": "≤ 2 % of the first backup's bytes",
			"restore_time":        "≤ 2 × the floor's decrypt + extract",
		}}
	r.Ratios.DataDirBytes = size

	// The floor, on the same data dir in the same run.
	archive := filepath.Join(work, "floor.tar.zst.age")
	t0 := time.Now()
	floorBytes, err := floorBackup(data, archive, cp.Recipient())
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	r.FloorBackup = measured(time.Since(t0), floorBytes, size)
	dropCaches(data)
	t0 = time.Now()
	if err := floorRestore(archive, filepath.Join(work, "floor-restored"), cp); err != nil {
		return fmt.Errorf("floor restore: %w", err)
	}
	r.FloorRestore = measured(time.Since(t0), 0, size)
	os.RemoveAll(filepath.Join(work, "floor-restored"))
	dropCaches(data)

	// The vault at a file target, as `sproudctl serve --backup-target file://…` keeps it.
	target, err := vault.OpenTarget(ctx, "file://"+filepath.Join(work, "target"))
	if err != nil {
		return err
	}
	v := vault.New(vault.Options{Target: target, Identities: []age.Identity{cp}, Recipients: []age.Recipient{cp.Recipient()}, Clock: clock.Real{}})
	src := vault.Source{InstanceID: "bench-1", Slug: "bench", Plan: "starter", CustomerID: "bench", Secrets: map[string]string{"SPROUDCHAT_SECRET_KEY": strings.Repeat("ab", 32)}}

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	t0 = time.Now()
	first, err := backup(ctx, app, data, v, src, "b1", "")
	if err != nil {
		return fmt.Errorf("first backup: %w", err)
	}
	pprof.StopCPUProfile()
	r.First = measured(time.Since(t0), first.AddedBytes, size)
	r.Ratios.FirstObjects = first.AddedObjects

	if err := command(seeder, "-dir", data, "-add-ticket", "Druckerproblem nach dem Update"); err != nil {
		return fmt.Errorf("add a ticket: %w", err)
	}
	dropCaches(data)
	t0 = time.Now()
	second, err := backup(ctx, app, data, v, src, "b2", "b1")
	if err != nil {
		return fmt.Errorf("second backup: %w", err)
	}
	r.Second = measured(time.Since(t0), second.AddedBytes, size)
	r.Ratios.SecondObjects = second.AddedObjects
	r.Ratios.TargetBytesAfterTwo, _ = v.Usage(ctx, src.InstanceID)
	r.Ratios.FloorBytesForTwoDaily = 2 * floorBytes

	restored := filepath.Join(work, "restored")
	if err := os.MkdirAll(restored, 0o700); err != nil {
		return err
	}
	t0 = time.Now()
	if err := restore(ctx, app, restored, v, src.InstanceID, "b2"); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	r.Restore = measured(time.Since(t0), 0, size)

	r.Ratios.FirstOverFloor = ratio(r.First.Seconds, r.FloorBackup.Seconds)
	r.Ratios.SecondBytesOverFirst = ratio(float64(r.Second.Bytes), float64(r.First.Bytes))
	r.Ratios.RestoreOverFloor = ratio(r.Restore.Seconds, r.FloorRestore.Seconds)
	r.Ratios.StoredBytesOverFloor = ratio(float64(r.First.Bytes), float64(floorBytes))
	r.Verdict = map[string]bool{
		"first_backup_within_1.5x_floor":  r.Ratios.FirstOverFloor <= 1.5,
		"second_backup_within_2pct_bytes": r.Ratios.SecondBytesOverFirst <= 0.02,
		"restore_within_2x_floor":         r.Ratios.RestoreOverFloor <= 2,
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	fmt.Println(string(b))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// backup runs `sproudchat backup --to -` on the data dir, as a runtime's RunTool does,
// and stores its stream in the vault; known blobs come from prev.
func backup(ctx context.Context, app, data string, v *vault.Vault, src vault.Source, id, prev string) (vault.Result, error) {
	var known []string
	if prev != "" {
		var err error
		if known, err = v.Known(ctx, src.InstanceID, prev); err != nil {
			return vault.Result{}, err
		}
	}
	cmd := exec.CommandContext(ctx, app, "backup", "--to", "-", "--known", "-")
	cmd.Env = append(os.Environ(), "SPROUDCHAT_DATA_DIR="+data)
	cmd.Stdin = strings.NewReader(strings.Join(known, "\n"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return vault.Result{}, err
	}
	if err := cmd.Start(); err != nil {
		return vault.Result{}, err
	}
	res, werr := v.Write(ctx, src, id, prev, stdout)
	if werr != nil {
		_ = cmd.Process.Kill()
	}
	if err := cmd.Wait(); err != nil && werr == nil {
		werr = fmt.Errorf("sproudchat backup: %w: %s", err, stderr.String())
	}
	return res, werr
}

// restore streams the backup from the vault into `sproudchat restore --from -` on a
// fresh data dir.
func restore(ctx context.Context, app, data string, v *vault.Vault, instanceID, id string) error {
	cmd := exec.CommandContext(ctx, app, "restore", "--from", "-")
	cmd.Env = append(os.Environ(), "SPROUDCHAT_DATA_DIR="+data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	_, rerr := v.Read(ctx, instanceID, id, stdin)
	stdin.Close()
	if err := cmd.Wait(); err != nil && rerr == nil {
		rerr = fmt.Errorf("sproudchat restore: %w: %s", err, stderr.String())
	}
	return rerr
}

// floorBackup is tar | zstd | age of dir into one file, streaming, with the libraries
// the vault uses at their defaults.
func floorBackup(dir, archive string, rcpt age.Recipient) (int64, error) {
	f, err := os.Create(archive)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	enc, err := age.Encrypt(bw, rcpt)
	if err != nil {
		return 0, err
	}
	zw, err := zstd.NewWriter(enc)
	if err != nil {
		return 0, err
	}
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	for _, c := range []io.Closer{tw, zw, enc} {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// floorRestore is age -d | zstd -d | tar -x of the archive into dir.
func floorRestore(archive, dir string, id age.Identity) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	dec, err := age.Decrypt(bufio.NewReaderSize(f, 1<<20), id)
	if err != nil {
		return err
	}
	zr, err := zstd.NewReader(dec)
	if err != nil {
		return err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return err
		}
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
}

func command(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}

// dropCaches asks the kernel to forget the data dir's pages so that every step reads
// from the disk alike (root only; otherwise every step reads from the page cache alike).
func dropCaches(string) {
	_ = exec.Command("sync").Run()
	_ = os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0o200)
}

func measured(d time.Duration, bytes, dataBytes int64) step {
	s := d.Seconds()
	return step{Seconds: round(s), Bytes: bytes, MBPerSecond: round(float64(dataBytes) / 1e6 / s)}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return float64(int64(a/b*10000+0.5)) / 10000
}

func round(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
