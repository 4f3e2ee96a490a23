package cli

import (
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/sproudstack/sproudchat/controlplane/internal/edge"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/serve"
)

var execLookPath = exec.LookPath

type serveFlags struct {
	apiAddr, edgeAddr, baseDomain, scheme, dataDir, databaseURL, runtime, templates, instanceBinary, appVersion, secretKey string
	trustedProxies                                                                                                         string
	leaseTTL                                                                                                               time.Duration
	backupTarget                                                                                                           string
	backupRecipients                                                                                                       []string
}

func (f *serveFlags) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.apiAddr, "api-addr", "127.0.0.1:8090", "address of the provisioning API")
	fl.StringVar(&f.edgeAddr, "edge-addr", "127.0.0.1:8080", "address of the edge router that customers reach")
	fl.StringVar(&f.baseDomain, "base-domain", "localhost", "instances live at <slug>.<base-domain>")
	fl.StringVar(&f.scheme, "public-scheme", "http", "scheme of instance URLs: http or https (behind a TLS proxy)")
	fl.StringVar(&f.trustedProxies, "trusted-proxies", "", "CIDR,… of proxies in front of the edge whose X-Forwarded-For and PROXY protocol header are believed")
	fl.StringVar(&f.dataDir, "data-dir", "./data/controlplane", "SQLite database, secret key, process-runtime instances")
	fl.StringVar(&f.databaseURL, "database-url", "", "postgres://… to use PostgreSQL instead of SQLite")
	fl.StringVar(&f.runtime, "runtime", "", "docker or process (default: docker when an engine answers)")
	fl.StringVar(&f.templates, "templates", "./templates", "folder of plan files (*.yaml)")
	fl.StringVar(&f.instanceBinary, "instance-binary", "", "sproudchat binary for the process runtime (default: beside sproudctl or on PATH)")
	fl.StringVar(&f.appVersion, "app-version", "", "tag of the sproudchat/app image (default: this build's version)")
	fl.StringVar(&f.secretKey, "secret-key", "", "32 bytes hex/base64 sealing secrets at rest (default: generated into the data dir)")
	fl.DurationVar(&f.leaseTTL, "lease-ttl", 30*time.Second, "how long a crashed worker's claim on an instance or a backup blocks others")
	fl.StringVar(&f.backupTarget, "backup-target", "", "where backups go: file:///dir or s3://bucket/prefix?endpoint=http://host:port&region=… (default: file://<data-dir>/backups)")
	fl.StringSliceVar(&f.backupRecipients, "backup-recipient", nil, "age recipient (age1…) every backup is also encrypted to, for recovery without this control plane; repeat or comma-separate")
}

// config checks the flags; every problem is a usage error naming its flag.
func (f *serveFlags) config() (serve.Config, error) {
	c := serve.Config{APIAddr: f.apiAddr, EdgeAddr: f.edgeAddr, BaseDomain: strings.ToLower(strings.TrimSpace(f.baseDomain)),
		PublicScheme: f.scheme, DataDir: f.dataDir, DatabaseURL: f.databaseURL, Runtime: f.runtime, Templates: f.templates,
		InstanceBinary: f.instanceBinary, AppVersion: f.appVersion, LeaseTTL: f.leaseTTL, Version: Version}
	if f.leaseTTL < time.Second || f.leaseTTL > time.Hour {
		return c, usagef("--lease-ttl %s: must be between 1s and 1h", f.leaseTTL)
	}
	for name, addr := range map[string]string{"--api-addr": f.apiAddr, "--edge-addr": f.edgeAddr} {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			return c, usagef("%s %q: must be host:port", name, addr)
		}
	}
	if c.BaseDomain == "" || strings.ContainsAny(c.BaseDomain, "/: ") {
		return c, usagef("--base-domain %q: must be a domain such as sproud.chat", f.baseDomain)
	}
	var err error
	if c.TrustedProxies, err = edge.ParseTrustedProxies(f.trustedProxies); err != nil {
		return c, usagef("--trusted-proxies: %v", err)
	}
	if f.scheme != "http" && f.scheme != "https" {
		return c, usagef("--public-scheme %q: must be http or https", f.scheme)
	}
	if f.runtime != "" && f.runtime != "docker" && f.runtime != "process" {
		return c, usagef("--runtime %q: must be docker or process", f.runtime)
	}
	if f.databaseURL != "" && !strings.HasPrefix(f.databaseURL, "postgres://") && !strings.HasPrefix(f.databaseURL, "postgresql://") {
		return c, usagef("--database-url: must be empty (SQLite) or postgres://…")
	}
	if f.dataDir == "" {
		return c, usagef("--data-dir: must not be empty")
	}
	if c.InstanceBinary == "" {
		c.InstanceBinary = beside("sproudchat")
	}
	if c.AppVersion == "" {
		c.AppVersion = Version
	}
	if err := f.backupConfig(&c); err != nil {
		return c, err
	}
	if f.secretKey != "" {
		k, err := secret.ParseKey(f.secretKey)
		if err != nil {
			return c, usagef("--secret-key: %v", err)
		}
		c.SecretKey = k
	}
	return c, nil
}

func newServeCmd(d *deps) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the control plane: API, edge router, reconciler, jobs",
		Long: `Run the control plane: the provisioning API, the edge router, the reconciler,
the scheduled jobs and the webhook deliverer. Every flag can also be set as
SPROUDCTL_<FLAG> (SPROUDCTL_API_ADDR, SPROUDCTL_DATA_DIR, …).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			return serve.Run(cmd.Context(), cfg, serve.Options{Log: d.stdout})
		},
	}
	f.addFlags(cmd)
	return cmd
}

// backupConfig checks --backup-target and --backup-recipient into c.
func (f *serveFlags) backupConfig(c *serve.Config) error {
	c.BackupTarget = strings.TrimSpace(f.backupTarget)
	if c.BackupTarget == "" {
		dir, err := filepath.Abs(filepath.Join(f.dataDir, "backups"))
		if err != nil {
			return usagef("--data-dir: %v", err)
		}
		c.BackupTarget = (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
	} else if err := checkTargetURL(c.BackupTarget); err != nil {
		return usagef("--backup-target: %v", err)
	}
	seen := map[string]bool{}
	for _, r := range f.backupRecipients {
		r = strings.TrimSpace(r)
		if r == "" || seen[r] {
			continue
		}
		seen[r] = true
		if strings.HasPrefix(strings.ToUpper(r), "AGE-SECRET-KEY-") {
			// Never echoed: it is the key itself.
			return usagef("--backup-recipient: that is a secret identity (AGE-SECRET-KEY-…): give its public recipient (age1…) and keep the identity offline")
		}
		rcp, err := age.ParseX25519Recipient(r)
		if err != nil {
			return usagef("--backup-recipient %q: not an age recipient (age1…, as printed by sproudctl backup keygen or age-keygen)", r)
		}
		c.BackupRecipients = append(c.BackupRecipients, rcp)
	}
	return nil
}
