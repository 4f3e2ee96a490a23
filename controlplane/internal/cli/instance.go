package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sproudstack/sproudchat/controlplane/client"
)

func newInstanceCmd(d *deps) *cobra.Command {
	cmd := &cobra.Command{Use: "instance", Short: "Create, inspect and change instances"}
	cmd.AddCommand(newInstanceCreateCmd(d), newInstanceListCmd(d), newInstanceGetCmd(d),
		newInstanceChangeCmd(d, "suspend", "Make an instance read-only (purged after the plan's read-only days)", "suspended"),
		newInstanceChangeCmd(d, "resume", "Make a suspended instance writable again", "active"),
		newInstanceChangeCmd(d, "retry", "Send a failed instance back to work", "active", "suspended"),
		newInstanceChangeCmd(d, "destroy", "Destroy an instance and all its data now", "destroyed"),
		newInstanceEventsCmd(d), newInstanceLogsCmd(d))
	return cmd
}

func instanceRows(items ...client.Instance) [][]string {
	rows := make([][]string, len(items))
	for i, in := range items {
		rows[i] = []string{in.ID, in.Slug, in.CustomerID, in.Plan, in.State, in.DesiredState, in.URL}
	}
	return rows
}

var instanceHeader = []string{"ID", "SLUG", "CUSTOMER", "PLAN", "STATE", "DESIRED", "URL"}

type waitFlags struct {
	wait    bool
	timeout time.Duration
}

func (w *waitFlags) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&w.wait, "wait", false, "wait until the instance reaches the target state, showing progress")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 5*time.Minute, "how long --wait waits")
}

// await shows progress until inst reaches one of states (or fails).
func (w *waitFlags) await(ctx context.Context, d *deps, c *client.Client, inst client.Instance, states ...string) (client.Instance, error) {
	if !w.wait {
		return inst, nil
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	return c.WaitFor(ctx, inst.ID, func(i client.Instance) {
		fmt.Fprintf(d.stderr, "%s  %s → %s\n", time.Now().Format("15:04:05"), i.ID, i.State)
	}, states...)
}

type createFlags struct {
	customer, slug, plan, email, name, key, restoreFrom string
	waitFlags
}

func newInstanceCreateCmd(d *deps) *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an instance",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			inst, err := c.CreateInstance(cmd.Context(), client.CreateInstance{CustomerID: f.customer, Slug: f.slug, Plan: f.plan,
				AdminEmail: f.email, AdminName: f.name, RestoreFrom: f.restoreFrom}, f.key)
			if err != nil {
				return err
			}
			setup := inst.SetupURL
			if inst, err = f.await(cmd.Context(), d, c, inst, "active"); err != nil {
				return err
			}
			inst.SetupURL = setup
			if err := d.print(inst, append(instanceHeader, "SETUP URL"), [][]string{append(instanceRows(inst)[0], setup)}); err != nil {
				return err
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.customer, "customer", "", "billing's customer id (required)")
	fl.StringVar(&f.slug, "slug", "", "the instance's name in its URL (required)")
	fl.StringVar(&f.plan, "plan", "starter", "plan (sproudctl plan list)")
	fl.StringVar(&f.email, "admin-email", "", "e-mail of the customer's first admin (required)")
	fl.StringVar(&f.name, "admin-name", "", "name of the customer's first admin")
	fl.StringVar(&f.key, "idempotency-key", "", "makes retries of this create safe")
	fl.StringVar(&f.restoreFrom, "restore-from", "", "start with the data and secret key of this backup (of any instance, a destroyed one too)")
	cmd.MarkFlagRequired("customer")
	cmd.MarkFlagRequired("slug")
	cmd.MarkFlagRequired("admin-email")
	f.waitFlags.addFlags(cmd)
	return cmd
}

type listFlags struct {
	customer, state, cursor string
	limit                   int
}

func newInstanceListCmd(d *deps) *cobra.Command {
	f := &listFlags{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List instances",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			page, err := c.ListInstances(cmd.Context(), client.ListOptions{CustomerID: f.customer, State: f.state, Cursor: f.cursor, Limit: f.limit})
			if err != nil {
				return err
			}
			if err := d.print(page, instanceHeader, instanceRows(page.Items...)); err != nil {
				return err
			}
			if page.NextCursor != "" && d.global.output == "table" {
				fmt.Fprintf(d.stderr, "more: --cursor %s\n", page.NextCursor)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.customer, "customer", "", "only this customer's instances")
	cmd.Flags().StringVar(&f.state, "state", "", "only instances in this state")
	cmd.Flags().StringVar(&f.cursor, "cursor", "", "continue after this instance id")
	cmd.Flags().IntVar(&f.limit, "limit", 50, "at most this many (1-500)")
	return cmd
}

func newInstanceGetCmd(d *deps) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show one instance",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			inst, err := c.Instance(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			rows := instanceRows(inst)
			header := instanceHeader
			if inst.LastError != "" {
				header, rows[0] = append(header, "LAST ERROR"), append(rows[0], inst.LastError)
			}
			return d.print(inst, header, rows)
		},
	}
}

type changeFlags struct {
	reason string
	yes    bool
	waitFlags
}

// newInstanceChangeCmd makes suspend, resume, retry and destroy: each asks for a state
// and may wait for it.
func newInstanceChangeCmd(d *deps, verb, short string, target ...string) *cobra.Command {
	f := &changeFlags{}
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if verb == "destroy" && !f.yes {
				return usagef("destroy deletes the instance and all its data: add --yes to confirm")
			}
			c, err := d.client()
			if err != nil {
				return err
			}
			ctx, id := cmd.Context(), args[0]
			var inst client.Instance
			switch verb {
			case "suspend":
				inst, err = c.Suspend(ctx, id, f.reason)
			case "resume":
				inst, err = c.Resume(ctx, id)
			case "retry":
				inst, err = c.Retry(ctx, id)
			case "destroy":
				inst, err = c.Destroy(ctx, id)
			}
			if err != nil {
				return err
			}
			if inst, err = f.await(ctx, d, c, inst, target...); err != nil {
				return err
			}
			return d.print(inst, instanceHeader, instanceRows(inst))
		},
	}
	if verb == "suspend" {
		cmd.Flags().StringVar(&f.reason, "reason", "", "why (recorded in the events)")
	}
	if verb == "destroy" {
		cmd.Flags().BoolVar(&f.yes, "yes", false, "confirm that the instance and its data go")
	}
	f.waitFlags.addFlags(cmd)
	return cmd
}

func newInstanceEventsCmd(d *deps) *cobra.Command {
	return &cobra.Command{
		Use:   "events ID",
		Short: "Show an instance's history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			evs, err := c.Events(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			rows := make([][]string, len(evs.Items))
			for i, e := range evs.Items {
				rows[i] = []string{e.At.Format(time.RFC3339), e.Type, e.FromState, e.ToState, e.Actor, e.Reason}
			}
			return d.print(evs, []string{"AT", "EVENT", "FROM", "TO", "ACTOR", "REASON"}, rows)
		},
	}
}

func newInstanceLogsCmd(d *deps) *cobra.Command {
	var lines int
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Show the tail of an instance's app log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			l, err := c.Logs(cmd.Context(), args[0], lines)
			if err != nil {
				return err
			}
			if d.global.output == "json" {
				return d.print(l, nil, nil)
			}
			fmt.Fprintln(d.stdout, l.Lines)
			return nil
		},
	}
	cmd.Flags().IntVar(&lines, "lines", 100, "how many lines")
	return cmd
}
