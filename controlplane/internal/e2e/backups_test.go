package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	cpclient "github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault/s3test"
	"github.com/sproudstack/sproudchat/platform/testkit/apiclient"
	"github.com/sproudstack/sproudchat/platform/testkit/poll"
	"github.com/sproudstack/sproudchat/provisioning/docker"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// ctl runs the sproudctl CLI against the plane's API and returns its stdout; a
// non-zero exit fails the test with what it printed.
func (p *plane) ctl(args ...string) []byte {
	p.t.Helper()
	out, err := p.ctlErr(args...)
	if err != nil {
		p.t.Fatalf("sproudctl %s: %v\nserve output:\n%s", strings.Join(args, " "), err, p.output())
	}
	return out
}

// ctlErr is ctl that returns the failure instead.
func (p *plane) ctlErr(args ...string) ([]byte, error) {
	cmd := exec.Command(sproudctl(p.t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "SPROUDCTL_SERVER=http://" + p.apiAddr, "SPROUDCTL_TOKEN=" + p.token}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%w\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	return out, nil
}

// ctlJSON runs ctl with -o json and decodes its output into v.
func (p *plane) ctlJSON(v any, args ...string) {
	p.t.Helper()
	out := p.ctl(append(args, "-o", "json")...)
	if err := json.Unmarshal(out, v); err != nil {
		p.t.Fatalf("sproudctl %s printed no JSON (%v):\n%s", strings.Join(args, " "), err, out)
	}
}

// withS3Target points the plane's backups at a real S3 server (versitygw) of its own.
func withS3Target(t *testing.T, p *plane) {
	p.s3 = s3test.Start(t)
	p.args = append(p.args, "--backup-target", p.s3.URL("cp"))
	p.env = append(p.env, p.s3.Env()...)
}

// supportData is what a customer wrote into an instance, to find it again after a
// restore.
type supportData struct {
	email, password string
	subject         string
	ticketID        int64
	attachment      string // its API path
	attachmentText  string // a phrase inside the attachment
	attachmentSum   [32]byte
}

// writeSupportData sets the instance up (its first admin) and writes a ticket with an
// attachment through its API, as the customer does.
func (p *plane) writeSupportData(t *testing.T, inst cpclient.Instance, attachmentSize int) (*customer, supportData) {
	t.Helper()
	setup, _ := url.Parse(inst.SetupURL)
	d := supportData{email: "owner@example.org", password: "owner password 1",
		subject:        "Refund for order " + rand.Text()[:10],
		attachmentText: "the quarterly invoice of " + rand.Text()[:12]}
	c := p.customerOf(t, inst.URL)
	c.Setup(setup.Query().Get("token"), "Olivia Owner", d.email, d.password)
	c.Login(d.email, d.password)
	out := c.Must("POST", "/api/v1/tickets", map[string]any{"subject": d.subject, "requester_name": "Rita Requester",
		"requester_email": "rita@example.org", "body": "Please refund the order."}, 201)
	d.ticketID = int64(out["id"].(float64))
	// The text, then random bytes up to size: zstd cannot shrink it, and a large one
	// makes the backup take a while.
	content := []byte(d.attachmentText + "\n")
	if extra := attachmentSize - len(content); extra > 0 {
		pad := make([]byte, extra)
		rand.Read(pad)
		content = append(content, pad...)
	}
	d.attachmentSum = sha256.Sum256(content)
	code, att := c.Upload(fmt.Sprintf("/api/v1/tickets/%d/attachments", d.ticketID), "invoice.txt", bytes.NewReader(content))
	if code != 201 {
		t.Fatalf("upload attachment: %d %v", code, att)
	}
	d.attachment, _ = att["url"].(string)
	return c, d
}

// checkSupportData logs in to the instance at u with the admin's password and finds
// the ticket and the attachment's bytes.
func (p *plane) checkSupportData(t *testing.T, u string, d supportData) *customer {
	t.Helper()
	c := p.customerOf(t, u)
	c.Login(d.email, d.password)
	out := c.Must("GET", fmt.Sprintf("/api/v1/tickets/%d", d.ticketID), nil, 200)
	if out["subject"] != d.subject {
		t.Fatalf("ticket %d after the restore: %v, want subject %q", d.ticketID, out, d.subject)
	}
	code, body := c.Page(d.attachment)
	if code != 200 || sha256.Sum256([]byte(body)) != d.attachmentSum {
		t.Fatalf("attachment %s after the restore: %d, %d bytes that are not the uploaded ones", d.attachment, code, len(body))
	}
	return c
}

// checkNothingReadable reads every file of the S3 server's storage (versitygw's posix
// backend: one file per object) and fails if any holds the SQLite header or one of
// the phrases; it returns how many objects of the instance it read.
func checkNothingReadable(t *testing.T, s3 *s3test.Server, instanceID string, phrases ...string) int {
	t.Helper()
	n := 0
	needles := append([]string{"SQLite format 3"}, phrases...)
	err := filepath.WalkDir(s3.Dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(filepath.ToSlash(path), "/instances/"+instanceID+"/") {
			n++
		}
		for _, s := range needles {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in the clear", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// scratchLeft lists the runtime objects of restore drills' scratch instances (ids
// drill-…) of this control plane, read behind its back.
func (p *plane) scratchLeft(owner string) []string {
	p.t.Helper()
	var out []string
	if p.runtime == "process" {
		dirs, _ := filepath.Glob(filepath.Join(p.dataDir, "runtime", "instances", "drill-*"))
		for _, d := range dirs {
			out = append(out, append([]string{"dir " + filepath.Base(d)}, p.leftovers(filepath.Base(d))...)...)
		}
		procs, _ := os.ReadDir("/proc")
		for _, e := range procs {
			env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err == nil && bytes.Contains(env, []byte("SPROUDCHAT_DATA_DIR="+filepath.Join(p.dataDir, "runtime", "instances", "drill-"))) &&
				!strings.Contains(string(stat), ") Z ") {
				out = append(out, "process "+e.Name())
			}
		}
		return out
	}
	return p.dockerObjects(filters.NewArgs(filters.Arg("label", docker.LabelOwner+"="+owner)), func(labels map[string]string) bool {
		return strings.HasPrefix(labels[docker.LabelInstance], "drill-")
	})
}

// dockerOwner is the owner label of instance id's app container ("" on the process
// runtime).
func (p *plane) dockerOwner(id string) string {
	p.t.Helper()
	if p.runtime != "docker" {
		return ""
	}
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close()
	cs, err := c.ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", docker.LabelInstance+"="+id))})
	if err != nil || len(cs) == 0 {
		p.t.Fatalf("containers of %s: %v, %v", id, cs, err)
	}
	return cs[0].Labels[docker.LabelOwner]
}

// TestBackupRestoreEndToEnd is issue 13's acceptance on both runtimes with the backups
// on a real S3 server: create → write → backup (the CLI) → nothing readable at the
// target → destroy → create from the backup → the data is there and the admin's
// password works → a restore drill passes and leaves no scratch instance.
func TestBackupRestoreEndToEnd(t *testing.T) {
	onEachRuntimeWith(t, withS3Target, func(t *testing.T, p *plane) {
		inst := p.create(uniqueSlug("bk"))
		p.wait(inst.ID, "active")
		_, data := p.writeSupportData(t, inst, 64<<10)

		var b cpclient.Backup
		p.ctlJSON(&b, "backup", "create", inst.ID, "--wait")
		var list cpclient.BackupList
		p.ctlJSON(&list, "backup", "list", inst.ID)
		if len(list.Items) != 1 || list.Items[0].ID != b.ID || list.Items[0].State != "completed" || list.Items[0].SizeBytes < 64<<10 ||
			list.Items[0].CompletedAt == nil {
			t.Fatalf("backups of %s: %+v, want %s completed with its size (≥ the attachment's)", inst.ID, list.Items, b.ID)
		}

		// Nothing readable at rest.
		if n := checkNothingReadable(t, p.s3, inst.ID, data.subject, data.attachmentText); n < 3 {
			t.Fatalf("the target holds %d objects of %s: the walk did not find the backup", n, inst.ID)
		}

		// The instance goes; a new one comes back from its backup.
		p.ctl("instance", "destroy", inst.ID, "--yes", "--wait")
		if left := p.leftovers(inst.ID); len(left) > 0 {
			t.Fatalf("left after destroy: %v", left)
		}
		var back cpclient.Instance
		p.ctlJSON(&back, "instance", "create", "--customer", "cus_e2e", "--slug", uniqueSlug("bkback"), "--admin-email", "owner@example.org",
			"--restore-from", b.ID, "--wait")
		p.removeAtEnd(back.ID)
		if back.State != "active" {
			t.Fatalf("the instance created from %s is %s (%s)", b.ID, back.State, back.LastError)
		}
		p.checkSupportData(t, back.URL, data)

		// A restore drill of the backup passes and leaves no scratch instance.
		owner := p.dockerOwner(back.ID)
		var d cpclient.Drill
		p.ctlJSON(&d, "backup", "drill", inst.ID, "--wait")
		var drills cpclient.DrillList
		p.ctlJSON(&drills, "backup", "drills", "--instance", inst.ID)
		if len(drills.Items) != 1 || drills.Items[0].ID != d.ID || drills.Items[0].BackupID != b.ID || !drills.Items[0].OK ||
			drills.Items[0].FinishedAt == nil || drills.Items[0].Blobs != 1 || drills.Items[0].Rows == 0 {
			t.Fatalf("drills of %s: %+v, want %s passed with the attachment", inst.ID, drills.Items, d.ID)
		}
		if left := p.scratchLeft(owner); len(left) > 0 {
			t.Fatalf("the drill left its scratch instance: %v", left)
		}
	})
}

// TestRestoreWhileSuspended: a restore in place of a suspended instance (the CLI, --yes
// --wait) puts the backup's data back, and the instance stays suspended (read-only)
// with the purge date it had.
func TestRestoreWhileSuspended(t *testing.T) {
	onEachRuntime(t, func(t *testing.T, p *plane) {
		ctx := context.Background()
		inst := p.create(uniqueSlug("bksus"))
		p.wait(inst.ID, "active")
		c, data := p.writeSupportData(t, inst, 4<<10)
		var b cpclient.Backup
		p.ctlJSON(&b, "backup", "create", inst.ID, "--wait")
		// Written after the backup: the restore takes it away.
		later := c.Must("POST", "/api/v1/tickets", map[string]any{"subject": "Written after the backup", "requester_name": "Rita Requester",
			"requester_email": "rita@example.org", "body": "Where is my order?"}, 201)
		laterPath := fmt.Sprintf("/api/v1/tickets/%d", int64(later["id"].(float64)))
		if _, err := p.api.Suspend(ctx, inst.ID, "invoice overdue"); err != nil {
			t.Fatal(err)
		}
		sus := p.wait(inst.ID, "suspended")
		if sus.PurgeAfter == nil {
			t.Fatalf("suspended without a purge date: %+v", sus)
		}

		var got cpclient.Instance
		p.ctlJSON(&got, "backup", "restore", inst.ID, b.ID, "--yes", "--wait")
		if got.State != "suspended" || got.PurgeAfter == nil || !got.PurgeAfter.Equal(*sus.PurgeAfter) || got.LastError != "" {
			t.Fatalf("after the restore: %s, purge after %v (was %v), error %q; want suspended with its purge date",
				got.State, got.PurgeAfter, sus.PurgeAfter, got.LastError)
		}
		c = p.checkSupportData(t, inst.URL, data)
		if code, out := c.Call("GET", laterPath, nil); code != 404 {
			t.Errorf("the ticket written after the backup: %d %v, want 404", code, out)
		}
		if code, out := c.Call("POST", "/api/v1/tickets", map[string]any{"subject": "Still read-only?", "requester_name": "Rita Requester",
			"requester_email": "rita@example.org", "body": "Hello"}); code != 423 {
			t.Errorf("a write after the restore: %d %v, want 423 (suspended is read-only)", code, out)
		}
		evs, err := p.api.Events(ctx, inst.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(evs.Items, func(e cpclient.Event) bool { return e.Type == "instance.restored" }) {
			t.Errorf("no instance.restored event: %+v", evs.Items)
		}
	})
}

// readmeRecovery is the README's offline recovery procedure: the shell block after "To
// recover," in "Recovery without the control plane".
func readmeRecovery(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runtimetest.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "#### Recovery without the control plane")
	if i < 0 {
		t.Fatal("the README has no section \"Recovery without the control plane\"")
	}
	s = s[i:]
	j := strings.Index(s, "To recover,")
	k := strings.Index(s[max(j, 0):], "```sh\n")
	if j < 0 || k < 0 {
		t.Fatal("the README's recovery section has no procedure after \"To recover,\"")
	}
	s = s[j+k+len("```sh\n"):]
	s = s[:strings.Index(s, "```")]
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\\\n", ""), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestOfflineRecoveryEndToEnd follows the README: with an operator's identity made by
// sproudctl backup keygen and given to serve as --backup-recipient, an instance comes
// back after the control plane and its whole data dir are gone, with nothing but the
// target and that identity: scan, extract, sproudchat restore into a fresh data dir,
// sproudchat serve with the recovered secret key; the data is there and the admin logs
// in with their password.
func TestOfflineRecoveryEndToEnd(t *testing.T) {
	p := newPlane(t, "process")
	offline, target, work := t.TempDir(), t.TempDir(), t.TempDir()
	keyFile := filepath.Join(offline, "sproud-offline.key")
	recipient := strings.TrimSpace(string(p.ctl("backup", "keygen", "-o", keyFile)))
	if !strings.HasPrefix(recipient, "age1") {
		t.Fatalf("keygen printed %q, want a recipient", recipient)
	}
	p.args = append(p.args, "--backup-target", "file://"+target, "--backup-recipient", recipient)
	p.start()
	inst := p.create(uniqueSlug("offline"))
	p.wait(inst.ID, "active")
	_, data := p.writeSupportData(t, inst, 8<<10)
	var b cpclient.Backup
	p.ctlJSON(&b, "backup", "create", inst.ID, "--wait")

	// The control plane and everything in its data dir (database, keys) are gone.
	p.kill(syscall.SIGTERM)
	if err := os.RemoveAll(p.dataDir); err != nil {
		t.Fatal(err)
	}

	// The README's commands, on a PATH with sproudctl and sproudchat, for this target,
	// instance and backup, into a fresh data dir.
	bin := t.TempDir()
	for name, path := range map[string]string{"sproudctl": sproudctl(t), "sproudchat": runtimetest.Binary(t)} {
		if err := os.Symlink(path, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	dataDir := filepath.Join(t.TempDir(), "acme")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	subst := strings.NewReplacer("file:///mnt/backups", "file://"+target, "<instance id>", inst.ID, "<backup id>", b.ID,
		"/srv/acme", dataDir, "sproud-offline.key", keyFile)
	steps := readmeRecovery(t)
	serveAt := slices.IndexFunc(steps, func(l string) bool { return strings.HasSuffix(l, "sproudchat serve") })
	if serveAt < 0 || serveAt == len(steps)-1 {
		t.Fatalf("the README's procedure does not start sproudchat serve before its last step: %q", steps)
	}
	shell := func(script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = work
		cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the README's procedure failed: %v\n%s\n%s", err, script, out)
		}
		return string(out)
	}
	var before []string
	for _, l := range steps[:serveAt] {
		before = append(before, subst.Replace(l))
	}
	envFile := filepath.Join(work, "environment")
	out := shell(strings.Join(before, "\n") + "\nenv -0 > " + envFile)
	if !strings.Contains(out, b.ID) {
		t.Errorf("scan and extract did not name backup %s:\n%s", b.ID, out)
	}
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}

	// sproudchat serve as the README starts it, with the environment its steps made
	// (the recovered secret key) and an address of the test's.
	serve := strings.Fields(subst.Replace(steps[serveAt]))
	addr := freeAddr(t)
	cmd := exec.Command(runtimetest.Binary(t), "serve")
	for _, kv := range strings.Split(strings.TrimRight(string(env), "\x00"), "\x00") {
		if strings.HasPrefix(kv, "SPROUDCHAT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if !slices.ContainsFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, "SPROUDCHAT_SECRET_KEY=") }) {
		t.Fatalf("the README's steps set no SPROUDCHAT_SECRET_KEY (environment: %d entries)", len(cmd.Env))
	}
	cmd.Env = append(cmd.Env, append(serve[:len(serve)-2:len(serve)-2], "SPROUDCHAT_LISTEN_ADDR="+addr)...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); <-exited })
	poll.Eventually(t, "the recovered instance to be ready", func() bool {
		select {
		case <-exited:
			t.Fatalf("sproudchat serve exited:\n%s", logs.String())
		default:
		}
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	c := apiclient.New(t, "http://"+addr, apiclient.Options{})
	c.Login(data.email, data.password)
	if got := c.Must("GET", fmt.Sprintf("/api/v1/tickets/%d", data.ticketID), nil, 200); got["subject"] != data.subject {
		t.Fatalf("ticket %d after the recovery: %v", data.ticketID, got)
	}
	if code, body := c.Page(data.attachment); code != 200 || sha256.Sum256([]byte(body)) != data.attachmentSum {
		t.Fatalf("attachment after the recovery: %d, %d bytes that are not the uploaded ones", code, len(body))
	}
	var after []string
	for _, l := range steps[serveAt+1:] {
		after = append(after, subst.Replace(l))
	}
	shell(strings.Join(after, "\n"))
	if _, err := os.Stat(filepath.Join(dataDir, ".restore", "previous")); !os.IsNotExist(err) {
		t.Errorf("after restore --commit the replaced data is still there: %v", err)
	}
}

// tools lists the backup and restore tools running on instance id's data (process
// runtime) or the tool containers of it in any state (Docker), read behind the
// control plane's back.
func (p *plane) tools(id string) []string {
	p.t.Helper()
	var out []string
	if p.runtime == "process" {
		dataEnv := []byte("SPROUDCHAT_DATA_DIR=" + filepath.Join(p.dataDir, "runtime", "instances", id, "data") + "\x00")
		procs, _ := os.ReadDir("/proc")
		for _, e := range procs {
			env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			args := bytes.Split(cmdline, []byte{0})
			if err == nil && bytes.Contains(env, dataEnv) && len(args) > 1 && (string(args[1]) == "backup" || string(args[1]) == "restore") &&
				!strings.Contains(string(stat), ") Z ") {
				out = append(out, "process "+e.Name()+" "+string(bytes.Join(args[1:], []byte{' '})))
			}
		}
		return out
	}
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close()
	cs, _ := c.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", docker.LabelInstance+"="+id), filters.Arg("label", docker.LabelRole+"=tool"))})
	for _, x := range cs {
		out = append(out, "container "+x.Names[0]+" "+string(x.State))
	}
	return out
}

// TestBackupAndRestoreSurviveSIGKILL kills serve with SIGKILL while a backup runs and
// while a restore runs. Restarted, it lists no half backup as completed and takes the
// backup again to completion; the interrupted restore finishes, the instance is back in
// its state with the backup's data, and no tool is left behind.
func TestBackupAndRestoreSurviveSIGKILL(t *testing.T) {
	onEachRuntime(t, func(t *testing.T, p *plane) {
		ctx := context.Background()
		inst := p.create(uniqueSlug("bkkill"))
		p.wait(inst.ID, "active")
		// Three attachments of 9 MiB that do not compress: a backup that takes a while.
		c, data := p.writeSupportData(t, inst, 9<<20)
		for i := range 2 {
			big := make([]byte, 9<<20)
			rand.Read(big)
			if code, out := c.Upload(fmt.Sprintf("/api/v1/tickets/%d/attachments", data.ticketID), fmt.Sprintf("scan-%d.bin", i), bytes.NewReader(big)); code != 201 {
				t.Fatalf("upload: %d %v", code, out)
			}
		}

		b, err := p.api.CreateBackup(ctx, inst.ID)
		if err != nil {
			t.Fatal(err)
		}
		chunks := filepath.Join(p.dataDir, "backups", "instances", inst.ID, "chunks")
		var seen cpclient.Backup
		poll.Eventually(t, "the backup to be running with chunks stored", func() bool {
			list, err := p.api.Backups(ctx, inst.ID)
			if err != nil || len(list.Items) == 0 {
				return false
			}
			seen = list.Items[0]
			stored, _ := os.ReadDir(chunks)
			return seen.State == "completed" || seen.State == "running" && len(stored) > 0
		})
		if seen.State == "completed" {
			t.Log("the backup completed before the kill; the restart still must keep it completed")
		}
		p.kill(syscall.SIGKILL)
		p.start()
		list, err := p.api.Backups(ctx, inst.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.Items[0].ID != b.ID {
			t.Fatalf("backups after the restart: %+v, want only %s", list.Items, b.ID)
		}
		if seen.State == "running" && list.Items[0].State == "completed" {
			t.Fatalf("the backup the kill cut short is listed completed at once after the restart: %+v", list.Items[0])
		}
		poll.EventuallyWithin(t, 2*time.Minute, "the interrupted backup to be taken again to completion", func() bool {
			list, err = p.api.Backups(ctx, inst.ID)
			if err == nil && len(list.Items) == 1 && list.Items[0].State == "failed" {
				t.Fatalf("the interrupted backup failed: %+v", list.Items[0])
			}
			return err == nil && len(list.Items) == 1 && list.Items[0].State == "completed"
		})
		if got := list.Items[0]; got.SizeBytes < 27<<20 || got.CompletedAt == nil {
			t.Fatalf("the backup taken again: %+v, want all 27 MiB of attachments", got)
		}

		// Written after the backup: the restore takes it away.
		later := c.Must("POST", "/api/v1/tickets", map[string]any{"subject": "Written after the backup", "requester_name": "Rita Requester",
			"requester_email": "rita@example.org", "body": "Where is my order?"}, 201)
		laterPath := fmt.Sprintf("/api/v1/tickets/%d", int64(later["id"].(float64)))
		if _, err := p.api.Restore(ctx, inst.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		restoring := true
		poll.Eventually(t, "the restore tool to run", func() bool {
			if got, err := p.api.Instance(ctx, inst.ID); err == nil && got.State != "restoring" {
				restoring = false
				return true
			}
			for _, x := range p.tools(inst.ID) {
				if strings.Contains(x, "restore") || strings.Contains(x, "running") {
					return true
				}
			}
			return false
		})
		if !restoring {
			t.Log("the restore finished before the kill; the restart still must keep its data")
		}
		p.kill(syscall.SIGKILL)
		p.start()
		got := p.wait(inst.ID, "active")
		if got.LastError != "" {
			t.Fatalf("the restore after the restart: %q", got.LastError)
		}
		c = p.checkSupportData(t, inst.URL, data)
		if code, out := c.Call("GET", laterPath, nil); code != 404 {
			t.Errorf("the ticket written after the backup: %d %v, want 404", code, out)
		}
		c.Must("POST", "/api/v1/tickets", map[string]any{"subject": "Writable again", "requester_name": "Rita Requester",
			"requester_email": "rita@example.org", "body": "Hello"}, 201)
		poll.Eventually(t, "no tool left of the instance", func() bool { return len(p.tools(inst.ID)) == 0 })
	})
}
