// Package cli is the sproudctl command line: `serve` runs the control plane, every other
// command talks to its API through the client package (token create can also work on
// the store directly, to bootstrap the first token).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
)

// Version is set at build time.
var Version = "dev"

// deps are what every command gets.
type deps struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	global         *globalFlags
	// openTarget opens a backup target (vault.OpenTarget, with getenv's credentials).
	openTarget func(ctx context.Context, url string) (vault.Target, error)
}

type globalFlags struct {
	server string
	token  string
	output string
}

// usageError marks bad usage: exit code 2.
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// Execute runs sproudctl with args and returns the exit code: 0, 1 for a failure, 2 for
// bad usage.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	d := &deps{stdout: stdout, stderr: stderr, getenv: getenv, global: &globalFlags{}}
	d.openTarget = func(ctx context.Context, url string) (vault.Target, error) {
		return vault.OpenTargetEnv(ctx, url, getenv)
	}
	root := newRootCmd(d)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "sproudctl: %v%s\n", err, notFoundHint(cmd, err))
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return 2
	}
	return 1
}

// notFoundHint explains a 404 from a command that names an instance: an instance is
// named by its id (a slug, which a newcomer tries first, is not one).
func notFoundHint(cmd *cobra.Command, err error) string {
	var p *client.Problem
	names := cmd != nil && (strings.Contains(cmd.Use, "INSTANCE") || cmd.Parent() != nil && cmd.Parent().Name() == "instance" && strings.HasSuffix(cmd.Use, " ID"))
	if !names || !errors.As(err, &p) || p.Status != http.StatusNotFound {
		return ""
	}
	return ` (is it the instance's id? "sproudctl instance list" shows each instance's id beside its slug)`
}

// isCobraUsage recognises cobra's own usage errors (unknown command, flag, arguments).
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func newRootCmd(d *deps) *cobra.Command {
	root := &cobra.Command{
		Use:           "sproudctl",
		Short:         "Run and operate the sproudchat control plane",
		Long:          "sproudctl runs the sproudchat control plane (sproudctl serve) and operates it through its API.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd, d.getenv); err != nil {
				return err
			}
			if o := d.global.output; o != "table" && o != "json" {
				return usagef("--output %q: must be table or json", o)
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&d.global.server, "server", "http://127.0.0.1:8090", "control-plane API address (SPROUDCTL_SERVER)")
	pf.StringVar(&d.global.token, "token", "", "API token (SPROUDCTL_TOKEN)")
	pf.StringVarP(&d.global.output, "output", "o", "table", "output format: table or json")
	root.AddCommand(newServeCmd(d), newInstanceCmd(d), newTokenCmd(d), newPlanCmd(d), newWebhookCmd(d), newGCCmd(d), newBackupCmd(d), newVersionCmd(d))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return root
}

// envDefaults gives every flag not set on the command line its SPROUDCTL_<FLAG> value.
func envDefaults(cmd *cobra.Command, getenv func(string) string) error {
	var err error
	set := func(f *pflag.Flag) {
		if f.Changed || err != nil || f.Annotations[annotationNoEnv] != nil {
			return
		}
		name := "SPROUDCTL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if serr := f.Value.Set(v); serr != nil {
				err = usagef("%s: %v", name, serr)
			}
			f.Changed = true
		}
	}
	cmd.Flags().VisitAll(set)
	cmd.InheritedFlags().VisitAll(set)
	return err
}

func (d *deps) client() (*client.Client, error) {
	if d.global.token == "" {
		return nil, usagef("no API token: pass --token or set SPROUDCTL_TOKEN (sproudctl token create makes one)")
	}
	return client.New(d.global.server, d.global.token), nil
}

// print writes v as JSON with -o json, else as a table of rows.
func (d *deps) print(v any, header []string, rows [][]string) error {
	if d.global.output == "json" {
		enc := json.NewEncoder(d.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	w := tabwriter.NewWriter(d.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}

func newVersionCmd(d *deps) *cobra.Command {
	return &cobra.Command{Use: "version", Short: "Print the version", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error {
		fmt.Fprintf(d.stdout, "sproudctl %s\n", Version)
		return nil
	}}
}

// beside finds name next to the running executable, else on PATH.
func beside(name string) string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := execLookPath(name); err == nil {
		return p
	}
	return ""
}
