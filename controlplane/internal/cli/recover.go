package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// The offline commands: they read a backup target with an identity file and nothing
// else, so backups can be recovered when the control plane and its database are gone.

// noEnv marks a flag that takes no SPROUDCTL_ value from the environment: the -o of
// these commands names a file, and SPROUDCTL_OUTPUT=json must not become one.
func noEnv(cmd *cobra.Command, name string) {
	cmd.Flags().SetAnnotation(name, annotationNoEnv, []string{"true"})
}

const annotationNoEnv = "sproudctl_no_env"

type extractFlags struct {
	identity, target, instance, backup, out, secretsTo string
}

func newBackupExtractCmd(d *deps) *cobra.Command {
	f := &extractFlags{}
	cmd := &cobra.Command{
		Use:   "extract",
		Short: "Decrypt a backup from the target into a snapshot file (offline)",
		Long: `Decrypt a backup straight from the target into a snapshot file, without a control
plane or its database: only an identity that can open it (an offline identity
made with "sproudctl backup keygen" whose recipient serve was given as
--backup-recipient). Every object is checked before the first byte is written and
again as it is read; a failed extract leaves no file behind.

The snapshot loads into a stopped instance with "sproudchat restore --from FILE".
--secrets-to writes the instance's secrets (SPROUDCHAT_SECRET_KEY above all) as
KEY=value lines, readable only by you. S3 targets take their credentials from
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for flag, v := range map[string]string{"--identity": f.identity, "--target": f.target, "--instance": f.instance, "--backup": f.backup, "--output": f.out} {
				if v == "" {
					return usagef("%s is required", flag)
				}
			}
			if err := checkTargetURL(f.target); err != nil {
				return usagef("--target: %v", err)
			}
			ids, err := readIdentities(f.identity)
			if err != nil {
				return err
			}
			for _, p := range []string{f.out, f.secretsTo} {
				if p != "" && p != "-" {
					if _, err := os.Lstat(p); err == nil {
						return usagef("%s exists: remove it or choose another file", p)
					}
				}
			}
			tgt, err := d.openTarget(cmd.Context(), f.target)
			if err != nil {
				return fmt.Errorf("open target: %w", err)
			}
			v := vault.New(vault.Options{Target: tgt, Identities: ids, Clock: clock.Real{}})
			var m vault.Manifest
			err = writeFileAtomic(f.out, d.stdout, func(w io.Writer) error {
				m, err = v.Read(cmd.Context(), f.instance, f.backup, w)
				return err
			})
			if err != nil {
				return fmt.Errorf("extract backup %s of %s: %w", f.backup, f.instance, err)
			}
			if f.secretsTo != "" {
				if err := writeFileAtomic(f.secretsTo, d.stdout, func(w io.Writer) error { return writeSecrets(w, m.Secrets) }); err != nil {
					return fmt.Errorf("write secrets: %w", err)
				}
			}
			if f.out != "-" {
				fmt.Fprintf(d.stderr, "backup %s of %s (%s, taken %s): %d files → %s\n", m.BackupID, m.InstanceID, m.Slug,
					m.TakenAt.UTC().Format(time.RFC3339), len(m.Files), f.out)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.identity, "identity", "", "age identity file that opens the backup (required)")
	fl.StringVar(&f.target, "target", "", "the backup target: file:///dir or s3://bucket/prefix?endpoint=… (required)")
	fl.StringVar(&f.instance, "instance", "", "the instance id (sproudctl backup scan lists them) (required)")
	fl.StringVar(&f.backup, "backup", "", "the backup id (required)")
	fl.StringVarP(&f.out, "output", "o", "", `snapshot file to write (mode 0600), "-" for standard output (required)`)
	fl.StringVar(&f.secretsTo, "secrets-to", "", "also write the instance's secrets to this file (mode 0600)")
	noEnv(cmd, "output")
	return cmd
}

// writeSecrets writes secrets as sorted KEY=value lines (an env file).
func writeSecrets(w io.Writer, secrets map[string]string) error {
	bw := bufio.NewWriter(w)
	for _, k := range slices.Sorted(maps.Keys(secrets)) {
		if strings.ContainsAny(k+secrets[k], "\r\n") || strings.Contains(k, "=") {
			return fmt.Errorf("secret %q cannot be written as a KEY=value line", k)
		}
		fmt.Fprintf(bw, "%s=%s\n", k, secrets[k])
	}
	return bw.Flush()
}

// writeFileAtomic makes path (mode 0600) from what fill writes, or nothing: it writes
// a temporary file beside path and renames it into place only when fill succeeded.
// path "-" is stdout.
func writeFileAtomic(path string, stdout io.Writer, fill func(io.Writer) error) error {
	if path == "-" {
		return fill(stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil { // never replaces a file made meanwhile
		return err
	}
	done = true
	return os.Remove(tmp.Name())
}

// readIdentities reads an age identity file.
func readIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("--identity: %v", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, usagef("--identity %s: not an age identity file: %v", path, err)
	}
	return ids, nil
}

type scanFlags struct{ identity, target string }

func newBackupScanCmd(d *deps) *cobra.Command {
	f := &scanFlags{}
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "List the backups at a target (offline)",
		Long: `List the backups stored at a target, without a control plane or its database.
With --identity each backup's manifest is opened and checked, and its instance's
slug, the time it was taken and its size are shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.target == "" {
				return usagef("--target is required")
			}
			if err := checkTargetURL(f.target); err != nil {
				return usagef("--target: %v", err)
			}
			var ids []age.Identity
			if f.identity != "" {
				var err error
				if ids, err = readIdentities(f.identity); err != nil {
					return err
				}
			}
			tgt, err := d.openTarget(cmd.Context(), f.target)
			if err != nil {
				return fmt.Errorf("open target: %w", err)
			}
			v := vault.New(vault.Options{Target: tgt, Identities: ids, Clock: clock.Real{}})
			found, err := v.Scan(cmd.Context())
			if err != nil {
				return fmt.Errorf("scan target: %w", err)
			}
			out := make([]scanned, len(found))
			rows := make([][]string, len(found))
			for i, x := range found {
				out[i] = scanned{InstanceID: x.InstanceID, BackupID: x.BackupID, Modified: x.Modified}
				rows[i] = []string{x.InstanceID, x.BackupID, stamp(&x.Modified)}
				if ids == nil {
					continue
				}
				m, err := v.Manifest(cmd.Context(), x.InstanceID, x.BackupID)
				if err != nil {
					out[i].Error = err.Error()
					rows[i] = append(rows[i], "-", "-", "-", "-", err.Error())
					continue
				}
				var size int64
				for _, fl := range m.Files {
					size += fl.Size
				}
				out[i].Slug, out[i].TakenAt, out[i].Files, out[i].Bytes = m.Slug, &m.TakenAt, len(m.Files), size
				rows[i] = append(rows[i], m.Slug, stamp(&m.TakenAt), fmt.Sprint(len(m.Files)), bytesText(size), "ok")
			}
			header := []string{"INSTANCE", "BACKUP", "STORED"}
			if ids != nil {
				header = append(header, "SLUG", "TAKEN", "FILES", "SIZE", "CHECK")
			}
			return d.print(scanList{Items: out}, header, rows)
		},
	}
	cmd.Flags().StringVar(&f.identity, "identity", "", "age identity file: open and check each backup's manifest")
	cmd.Flags().StringVar(&f.target, "target", "", "the backup target: file:///dir or s3://bucket/prefix?endpoint=… (required)")
	return cmd
}

// scanned is one backup found by scan, as -o json shows it.
type scanned struct {
	InstanceID string     `json:"instance_id"`
	BackupID   string     `json:"backup_id"`
	Modified   time.Time  `json:"stored_at"`
	Slug       string     `json:"slug,omitempty"`
	TakenAt    *time.Time `json:"taken_at,omitempty"`
	Files      int        `json:"files,omitempty"`
	Bytes      int64      `json:"bytes,omitempty"`
	Error      string     `json:"error,omitempty"`
}

type scanList struct {
	Items []scanned `json:"items"`
}

func newBackupKeygenCmd(d *deps) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make an offline age identity for recovering backups",
		Long: `Make a new age identity (X25519), write it to a new file readable only by you, and
print its public recipient. Give the recipient to serve (--backup-recipient age1…)
and keep the file away from the control plane's host: with it, "sproudctl backup
extract" recovers every backup even when the control plane and its database are
lost. The file is the same format as age-keygen's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--output is required: the file to write the identity to")
			}
			id, err := age.GenerateX25519Identity()
			if err != nil {
				return err
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, os.ErrExist) {
				return usagef("%s exists: an identity is never overwritten; choose another file", out)
			} else if err != nil {
				return err
			}
			_, err = fmt.Fprintf(f, "# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(out)
				return err
			}
			fmt.Fprintln(d.stdout, id.Recipient().String())
			fmt.Fprintf(d.stderr, "identity written to %s: keep it offline; give serve --backup-recipient %s\n", out, id.Recipient())
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write the identity to (created, mode 0600) (required)")
	noEnv(cmd, "output")
	return cmd
}
