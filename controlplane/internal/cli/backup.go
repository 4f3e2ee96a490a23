package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/sproudstack/sproudchat/controlplane/client"
)

func newBackupCmd(d *deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Back instances up, list, restore and erase their backups; recover without the control plane",
		Long: `Back instances up, list, restore and erase their backups through the API.

extract, scan and keygen work offline, without a control plane or its database:
with an offline identity (keygen) whose recipient serve was given as
--backup-recipient, extract turns a backup at the target back into a snapshot
that "sproudchat restore --from FILE" loads.`,
	}
	cmd.AddCommand(newBackupCreateCmd(d), newBackupListCmd(d), newBackupRestoreCmd(d), newBackupPurgeCmd(d), newBackupDrillCmd(d), newBackupDrillsCmd(d),
		newBackupExtractCmd(d), newBackupScanCmd(d), newBackupKeygenCmd(d))
	return cmd
}

var backupHeader = []string{"ID", "INSTANCE", "STATE", "TRIGGER", "CREATED", "COMPLETED", "SIZE", "ADDED", "EXPIRES", "LAST ERROR"}

func backupRows(items ...client.Backup) [][]string {
	rows := make([][]string, len(items))
	for i, b := range items {
		rows[i] = []string{b.ID, b.InstanceID, b.State, b.Trigger, stamp(&b.CreatedAt), stamp(b.CompletedAt), bytesText(b.SizeBytes),
			bytesText(b.AddedBytes), b.ExpiresAt.UTC().Format("2006-01-02"), b.LastError}
	}
	return rows
}

// stamp is a time for a table: UTC to the minute, "-" for none.
func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// bytesText is n in binary units, one decimal.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func newBackupCreateCmd(d *deps) *cobra.Command {
	w := &waitFlags{}
	cmd := &cobra.Command{
		Use:   "create INSTANCE",
		Short: "Back an instance up now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			b, err := c.CreateBackup(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if w.wait {
				if b, err = awaitBackup(cmd.Context(), d, c, b, w.timeout); err != nil {
					return err
				}
			}
			return d.print(b, backupHeader, backupRows(b))
		},
	}
	cmd.Flags().BoolVar(&w.wait, "wait", false, "wait until the backup completed or failed, showing progress")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 30*time.Minute, "how long --wait waits")
	return cmd
}

// awaitBackup polls b's instance's backups until b is completed or failed. A failed
// backup is an error.
func awaitBackup(ctx context.Context, d *deps, c *client.Client, b client.Backup, timeout time.Duration) (client.Backup, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		list, err := c.Backups(ctx, b.InstanceID)
		if err != nil {
			return b, err
		}
		for _, x := range list.Items {
			if x.ID == b.ID {
				b = x
			}
		}
		if b.State != last {
			fmt.Fprintf(d.stderr, "%s  %s → %s\n", time.Now().Format("15:04:05"), b.ID, b.State)
			last = b.State
		}
		switch b.State {
		case "completed":
			return b, nil
		case "failed":
			return b, fmt.Errorf("backup %s failed: %s", b.ID, b.LastError)
		}
		select {
		case <-ctx.Done():
			return b, fmt.Errorf("waiting for backup %s: %w (now %s)", b.ID, ctx.Err(), b.State)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func newBackupListCmd(d *deps) *cobra.Command {
	var stale bool
	cmd := &cobra.Command{
		Use:   "list INSTANCE | list --stale",
		Short: "List an instance's backups, or the instances without a recent one",
		Long: `List an instance's backups, newest first. With --stale, list instead every
instance without a successful backup for 36 hours.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if stale && len(args) > 0 {
				return usagef("--stale lists every instance: give no instance")
			}
			if !stale && len(args) != 1 {
				return usagef("give an instance id, or --stale")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			if stale {
				list, err := c.StaleBackups(cmd.Context())
				if err != nil {
					return err
				}
				rows := make([][]string, len(list.Items))
				for i, s := range list.Items {
					last := "never"
					if s.LastSuccess != nil {
						last = stamp(s.LastSuccess)
					}
					rows[i] = []string{s.InstanceID, s.Slug, last}
				}
				return d.print(list, []string{"INSTANCE", "SLUG", "LAST SUCCESS"}, rows)
			}
			list, err := c.Backups(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return d.print(list, backupHeader, backupRows(list.Items...))
		},
	}
	cmd.Flags().BoolVar(&stale, "stale", false, "list the instances without a successful backup for 36 hours")
	return cmd
}

func newBackupRestoreCmd(d *deps) *cobra.Command {
	f := &changeFlags{}
	cmd := &cobra.Command{
		Use:   "restore INSTANCE BACKUP",
		Short: "Replace an instance's data with one of its backups",
		Long: `Replace an instance's data with one of its completed backups. The app stops, the
backup's data replaces the instance's, the app starts and is checked; if anything
fails, the data it had is put back. What was written after the backup is lost,
hence --yes. A suspended instance stays suspended.

To recover a destroyed instance, create a new one from its backup:
sproudctl instance create … --restore-from BACKUP`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.yes {
				return usagef("restore replaces the instance's data with the backup's: add --yes to confirm")
			}
			c, err := d.client()
			if err != nil {
				return err
			}
			inst, err := c.Restore(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if inst, err = f.await(cmd.Context(), d, c, inst, "active", "suspended"); err != nil {
				return err
			}
			if err := d.print(inst, instanceHeader, instanceRows(inst)); err != nil {
				return err
			}
			if f.wait && inst.LastError != "" {
				// A failed restore returns the instance to its state with its old data.
				return fmt.Errorf("restore of %s failed and the previous data is back: %s", args[1], inst.LastError)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&f.yes, "yes", false, "confirm that the instance's current data is replaced")
	f.waitFlags.addFlags(cmd)
	return cmd
}

func newBackupPurgeCmd(d *deps) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "purge INSTANCE",
		Short: "Erase every backup of an instance (a customer's erasure request)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return usagef("purge erases every backup of the instance for good: add --yes to confirm")
			}
			c, err := d.client()
			if err != nil {
				return err
			}
			p, err := c.PurgeBackups(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return d.print(p, []string{"INSTANCE", "BACKUPS ERASED"}, [][]string{{p.InstanceID, strconv.Itoa(p.Deleted)}})
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm that every backup of the instance goes")
	return cmd
}

var drillHeader = []string{"ID", "INSTANCE", "BACKUP", "STARTED", "RESULT", "TABLES", "ROWS", "BLOBS", "ERROR"}

func drillRows(items ...client.Drill) [][]string {
	rows := make([][]string, len(items))
	for i, x := range items {
		rows[i] = []string{x.ID, x.InstanceID, x.BackupID, stamp(&x.StartedAt), drillResult(x), strconv.Itoa(x.Tables),
			strconv.FormatInt(x.Rows, 10), strconv.Itoa(x.Blobs), x.Error}
	}
	return rows
}

func drillResult(x client.Drill) string {
	switch {
	case x.FinishedAt != nil && x.OK:
		return "passed"
	case x.FinishedAt != nil:
		return "failed"
	}
	return "running"
}

func newBackupDrillCmd(d *deps) *cobra.Command {
	w := &waitFlags{}
	cmd := &cobra.Command{
		Use:   "drill INSTANCE",
		Short: "Run a restore drill of an instance's newest backup now",
		Long: `Run a restore drill of the instance's newest completed backup now, as the weekly
round does: restore it into a scratch instance, check it against the backup's
manifest, start it and throw it away. With --wait, a failed drill exits 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			x, err := c.StartDrill(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if w.wait {
				if x, err = awaitDrill(cmd.Context(), d, c, x, w.timeout); err != nil {
					return err
				}
			}
			if err := d.print(x, drillHeader, drillRows(x)); err != nil {
				return err
			}
			if x.FinishedAt != nil && !x.OK {
				return fmt.Errorf("drill %s of backup %s failed: %s", x.ID, x.BackupID, x.Error)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&w.wait, "wait", false, "wait until the drill finished, showing progress")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 30*time.Minute, "how long --wait waits")
	return cmd
}

// awaitDrill polls the instance's drills until x finished.
func awaitDrill(ctx context.Context, d *deps, c *client.Client, x client.Drill, timeout time.Duration) (client.Drill, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fmt.Fprintf(d.stderr, "%s  %s → running\n", time.Now().Format("15:04:05"), x.ID)
	for {
		list, err := c.Drills(ctx, x.InstanceID, 500)
		if err != nil {
			return x, err
		}
		for _, y := range list.Items {
			if y.ID == x.ID {
				x = y
			}
		}
		if x.FinishedAt != nil {
			fmt.Fprintf(d.stderr, "%s  %s → %s\n", time.Now().Format("15:04:05"), x.ID, drillResult(x))
			return x, nil
		}
		select {
		case <-ctx.Done():
			return x, fmt.Errorf("waiting for drill %s: %w", x.ID, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func newBackupDrillsCmd(d *deps) *cobra.Command {
	var instance string
	var limit int
	cmd := &cobra.Command{
		Use:   "drills",
		Short: "Show the recent restore drills and their results",
		Long: `Show the recent restore drills: each week the control plane restores the newest
backup of a sample of instances into a scratch instance, checks it against the
backup's manifest (tables, row counts, attachment hashes) and throws it away.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			list, err := c.Drills(cmd.Context(), instance, limit)
			if err != nil {
				return err
			}
			return d.print(list, drillHeader, drillRows(list.Items...))
		},
	}
	cmd.Flags().StringVar(&instance, "instance", "", "only this instance's drills")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many (1-500)")
	return cmd
}
