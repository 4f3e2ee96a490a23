package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/sproudstack/sproudchat/platform/testkit/golden"
)

func TestMain(m *testing.M) { os.Exit(golden.M(m).Run()) }

func run(env map[string]string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// TestHelpGolden pins every command's --help.
func TestHelpGolden(t *testing.T) {
	var walk func(c *cobra.Command)
	var cmds [][]string
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" && c.Parent() != nil && c.Parent().Name() == "completion" {
			return
		}
		cmds = append(cmds, strings.Fields(c.CommandPath())[1:])
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&deps{global: &globalFlags{}}))
	if len(cmds) < 20 {
		t.Fatalf("only %d commands found", len(cmds))
	}
	for _, args := range cmds {
		name := strings.Join(append([]string{"sproudctl"}, args...), "_")
		t.Run(name, func(t *testing.T) {
			code, out, _ := run(nil, append(args, "--help")...)
			if code != 0 {
				t.Errorf("%s --help: exit %d", name, code)
			}
			golden.AssertString(t, filepath.Join("testdata", "help", name+".golden"), out)
		})
	}
}

func TestBadUsageExitsTwoWithOneLine(t *testing.T) {
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"frobnicate"}, "unknown command"},
		{nil, []string{"instance", "get"}, "accepts 1 arg"},
		{nil, []string{"instance", "list", "--limit", "many"}, "invalid argument"},
		{nil, []string{"serve", "--runtime", "kubernetes"}, "--runtime"},
		{nil, []string{"serve", "--api-addr", "8090"}, "--api-addr"},
		{nil, []string{"serve", "--database-url", "mysql://x"}, "--database-url"},
		{nil, []string{"serve", "--lease-ttl", "5ms"}, "--lease-ttl"},
		{nil, []string{"serve", "--trusted-proxies", "10.0.0.0/8,proxy.example"}, "--trusted-proxies"},
		{map[string]string{"SPROUDCTL_TRUSTED_PROXIES": "10.0.0.0/33"}, []string{"serve"}, "--trusted-proxies"},
		{map[string]string{"SPROUDCTL_RUNTIME": "vm"}, []string{"serve"}, "--runtime"},
		{map[string]string{"SPROUDCTL_LEASE_TTL": "soon"}, []string{"serve"}, "SPROUDCTL_LEASE_TTL"},
		{nil, []string{"instance", "list"}, "no API token"},
		{nil, []string{"instance", "destroy", "in1", "--token", "x"}, "--yes"},
		{nil, []string{"token", "create", "--name", "x", "--scopes", "root", "--data-dir", "/nonexistent"}, "scopes"},
		{nil, []string{"instance", "list", "-o", "yaml", "--token", "x"}, "--output"},
		{nil, []string{"serve", "--backup-recipient", "age1notarecipient"}, "--backup-recipient \"age1notarecipient\": not an age recipient"},
		{nil, []string{"serve", "--backup-recipient", testRecipient + ",ssh-ed25519 AAAA"}, "--backup-recipient \"ssh-ed25519 AAAA\""},
		{map[string]string{"SPROUDCTL_BACKUP_RECIPIENT": testRecipient + ",age1nope"}, []string{"serve"}, "--backup-recipient \"age1nope\""},
		{nil, []string{"serve", "--backup-recipient", testIdentity}, "that is a secret identity"},
		{nil, []string{"serve", "--backup-target", "ftp://backups.example/x"}, "--backup-target"},
		{nil, []string{"serve", "--backup-target", "file://backups"}, "three slashes"},
		{nil, []string{"serve", "--backup-target", "file:relative/dir"}, "absolute directory"},
		{nil, []string{"serve", "--backup-target", "s3:///prefix"}, "names its bucket"},
		{nil, []string{"serve", "--backup-target", "s3://bucket/p?endpoint=localhost:9000"}, "endpoint"},
		{nil, []string{"serve", "--backup-target", "s3://key:secret@bucket/p"}, "no credentials in its URL"},
		{map[string]string{"SPROUDCTL_BACKUP_TARGET": "gs://bucket"}, []string{"serve"}, "--backup-target"},
		{nil, []string{"backup", "purge", "in1", "--token", "x"}, "add --yes"},
		{nil, []string{"backup", "restore", "in1", "bk1", "--token", "x"}, "add --yes"},
		{nil, []string{"backup", "restore", "in1", "--yes", "--token", "x"}, "accepts 2 arg"},
		{nil, []string{"backup", "list", "--token", "x"}, "give an instance id, or --stale"},
		{nil, []string{"backup", "list", "in1", "--stale", "--token", "x"}, "give no instance"},
		{nil, []string{"backup", "drills", "--limit", "lots", "--token", "x"}, "invalid argument"},
		{nil, []string{"backup", "extract", "--target", "file:///tmp/b", "--instance", "in1", "--backup", "bk1", "-o", "x"}, "--identity is required"},
		{nil, []string{"backup", "extract", "--identity", "/nonexistent/key", "--target", "file:///tmp/b", "--instance", "in1", "--backup", "bk1", "-o", "x"}, "--identity"},
		{nil, []string{"backup", "extract", "--identity", "k", "--target", "http://x", "--instance", "in1", "--backup", "bk1", "-o", "x"}, "--target"},
		{nil, []string{"backup", "scan"}, "--target is required"},
		{nil, []string{"backup", "keygen"}, "--output is required"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := run(tc.env, tc.args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("env %v: exit %d, stderr %q; want exit 2 and one line with %q", tc.env, code, stderr, tc.want)
			}
		})
	}
}

// A recipient and an identity for tests (not the same pair).
const (
	testRecipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	testIdentity  = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
)

func TestTokenBootstrapOnTheStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, stderr := run(nil, "token", "create", "--name", "billing", "--scopes", "instances:read,instances:write", "--data-dir", dir, "-o", "json")
	if code != 0 || !strings.Contains(out, `"token": "spt_`) || !strings.Contains(out, `"instances:write"`) {
		t.Fatalf("token create: %d %s %s", code, out, stderr)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v", err)
	}
	db, _ := os.ReadFile(filepath.Join(dir, "sproudctl.db"))
	tok := out[strings.Index(out, "spt_") : strings.Index(out, "spt_")+68]
	if bytes.Contains(db, []byte(tok)) {
		t.Fatal("the token is stored in clear")
	}
}
