package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sproudstack/sproudchat/controlplane/client"
)

func newPlanCmd(d *deps) *cobra.Command {
	cmd := &cobra.Command{Use: "plan", Short: "Show the plans"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the plans",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			ps, err := c.Plans(cmd.Context())
			if err != nil {
				return err
			}
			rows := make([][]string, len(ps.Items))
			for i, p := range ps.Items {
				rows[i] = []string{p.Name, p.DisplayName, p.Database, fmt.Sprintf("%d MiB", p.MemoryBytes>>20), strconv.FormatFloat(p.CPUs, 'f', -1, 64),
					fmt.Sprintf("%d GiB", p.AttachmentQuotaBytes>>30), strconv.Itoa(p.ReadOnlyDays)}
			}
			return d.print(ps, []string{"NAME", "DISPLAY NAME", "DATABASE", "MEMORY", "CPUS", "ATTACHMENTS", "READ-ONLY DAYS"}, rows)
		},
	})
	return cmd
}

func newWebhookCmd(d *deps) *cobra.Command {
	cmd := &cobra.Command{Use: "webhook", Short: "Subscribe billing to instance events"}
	var events string
	add := &cobra.Command{
		Use:   "add URL",
		Short: "Subscribe a URL (the signing secret is shown once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			w, err := c.AddWebhook(cmd.Context(), client.CreateWebhook{URL: args[0], Events: splitList(events)})
			if err != nil {
				return err
			}
			if d.global.output == "json" {
				return d.print(w, nil, nil)
			}
			fmt.Fprintf(d.stdout, "webhook %d → %s (%s)\nsigning secret (shown once): %s\n", w.ID, w.URL, strings.Join(w.Events, ","), w.Secret)
			return nil
		},
	}
	add.Flags().StringVar(&events, "events", "", "comma-separated event types (default: all instance events)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List subscriptions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			ws, err := c.Webhooks(cmd.Context())
			if err != nil {
				return err
			}
			rows := make([][]string, len(ws.Items))
			for i, w := range ws.Items {
				rows[i] = []string{strconv.FormatInt(w.ID, 10), w.URL, strings.Join(w.Events, ",")}
			}
			return d.print(ws, []string{"ID", "URL", "EVENTS"}, rows)
		},
	}
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a subscription",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usagef("webhook id %q is not a number", args[0])
			}
			c, err := d.client()
			if err != nil {
				return err
			}
			return c.RemoveWebhook(cmd.Context(), id)
		},
	}
	var hook int64
	var limit int
	deliveries := &cobra.Command{
		Use:   "deliveries",
		Short: "Show recent deliveries and their state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			ds, err := c.Deliveries(cmd.Context(), hook, limit)
			if err != nil {
				return err
			}
			rows := make([][]string, len(ds.Items))
			for i, x := range ds.Items {
				rows[i] = []string{strconv.FormatInt(x.ID, 10), strconv.FormatInt(x.WebhookID, 10), strconv.FormatInt(x.EventID, 10), x.Status,
					strconv.Itoa(x.Attempts), strconv.Itoa(x.ResponseCode), x.CreatedAt.Format(time.RFC3339), x.LastError}
			}
			return d.print(ds, []string{"ID", "WEBHOOK", "EVENT", "STATUS", "ATTEMPTS", "CODE", "CREATED", "LAST ERROR"}, rows)
		},
	}
	deliveries.Flags().Int64Var(&hook, "webhook", 0, "only this webhook's deliveries")
	deliveries.Flags().IntVar(&limit, "limit", 50, "at most this many (1-500)")
	cmd.AddCommand(add, list, remove, deliveries)
	return cmd
}

func newGCCmd(d *deps) *cobra.Command {
	var yes, volumes bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "List (and with --yes remove) runtime objects without a live instance",
		Long: `List the runtime objects of this control plane whose instance it does not know or
knows as destroyed. With --yes remove their apps (containers, networks, secrets);
their data (volumes) stays until a grace period after the first such gc, and goes
only with --yes --volumes. Objects that name no owner (made before owner labels)
may be another control plane's: they are listed, never removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if volumes && !yes {
				return usagef("--volumes: only with --yes")
			}
			c, err := d.client()
			if err != nil {
				return err
			}
			var list client.OrphanList
			if yes {
				list, err = c.CollectOrphans(cmd.Context(), client.CollectOrphans{Volumes: volumes})
			} else {
				list, err = c.Orphans(cmd.Context())
			}
			if err != nil {
				return err
			}
			rows := make([][]string, len(list.Items))
			for i, o := range list.Items {
				rows[i] = []string{o.InstanceID, o.Slug, o.Phase, o.Reason, orphanAction(o)}
			}
			if err := d.print(list, []string{"INSTANCE", "SLUG", "PHASE", "REASON", "ACTION"}, rows); err != nil {
				return err
			}
			if d.global.output == "table" && !yes && len(list.Items) > 0 {
				fmt.Fprintln(d.stderr, "run again with --yes to remove their apps, with --yes --volumes their data after the grace period")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "remove the apps of what is listed")
	cmd.Flags().BoolVar(&volumes, "volumes", false, "with --yes: remove the data too once its grace period has passed")
	return cmd
}

// orphanAction says in a word or three what gc did, or will do, with an orphan.
func orphanAction(o client.Orphan) string {
	when := ""
	if o.DataRemovableAt != nil {
		when = o.DataRemovableAt.UTC().Format(time.RFC3339)
	}
	switch {
	case o.Unowned:
		return "kept: names no owner"
	case o.Removed == client.RemovedAll:
		return "removed with its data"
	case o.Removed == client.RemovedApp:
		return "app removed; data removable from " + when
	case when != "":
		return "data removable from " + when
	}
	return ""
}
