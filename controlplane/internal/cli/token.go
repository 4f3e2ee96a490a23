package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/control"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/wire"
)

func newTokenCmd(d *deps) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}
	cmd.AddCommand(newTokenCreateCmd(d), newTokenListCmd(d), newTokenRevokeCmd(d))
	return cmd
}

type tokenCreateFlags struct {
	name, scopes, dataDir, databaseURL string
}

func newTokenCreateCmd(d *deps) *cobra.Command {
	f := &tokenCreateFlags{}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API token (shown once)",
		Long: `Create an API token. The token is shown once and stored only as a hash.

With --data-dir or --database-url the token is written straight into the store,
which is how the first token is made; otherwise the API is asked (admin scope).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := client.CreateToken{Name: f.name, Scopes: splitList(f.scopes)}
			req := lifecycle.TokenRequest(in)
			if err := req.Validate(); err != nil {
				return usagef("%v", err)
			}
			var (
				out client.Token
				err error
			)
			if f.dataDir != "" || f.databaseURL != "" {
				out, err = createTokenInStore(cmd.Context(), f, req)
			} else {
				var c *client.Client
				if c, err = d.client(); err != nil {
					return err
				}
				out, err = c.CreateToken(cmd.Context(), in)
			}
			if err != nil {
				return err
			}
			if d.global.output == "json" {
				return d.print(out, nil, nil)
			}
			fmt.Fprintf(d.stdout, "token %d (%s, %s):\n%s\nIt is shown only this once.\n", out.ID, out.Name, strings.Join(out.Scopes, ","), out.Token)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "what the token is for (required)")
	fl.StringVar(&f.scopes, "scopes", "instances:read,instances:write", "comma-separated: instances:read, instances:write, admin")
	fl.StringVar(&f.dataDir, "data-dir", "", "write into the SQLite store of this data dir (bootstrap)")
	fl.StringVar(&f.databaseURL, "database-url", "", "write into this PostgreSQL store (bootstrap)")
	cmd.MarkFlagRequired("name")
	return cmd
}

func createTokenInStore(ctx context.Context, f *tokenCreateFlags, req lifecycle.TokenRequest) (client.Token, error) {
	if f.databaseURL == "" {
		if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
			return client.Token{}, fmt.Errorf("create data dir: %w", err)
		}
	}
	db, err := store.Open(ctx, f.databaseURL, filepath.Join(f.dataDir, "sproudctl.db"))
	if err != nil {
		return client.Token{}, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return client.Token{}, err
	}
	t, raw, err := control.NewTokens(store.New(db), nil).Create(ctx, req)
	if err != nil {
		return client.Token{}, err
	}
	out := wire.Token(t)
	out.Token = raw
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newTokenListCmd(d *deps) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List API tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.client()
			if err != nil {
				return err
			}
			ts, err := c.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			rows := make([][]string, len(ts.Items))
			for i, t := range ts.Items {
				status := "live"
				if t.RevokedAt != nil {
					status = "revoked"
				}
				used := "never"
				if t.LastUsedAt != nil {
					used = t.LastUsedAt.Format(time.RFC3339)
				}
				rows[i] = []string{strconv.FormatInt(t.ID, 10), t.Name, strings.Join(t.Scopes, ","), status, used}
			}
			return d.print(ts, []string{"ID", "NAME", "SCOPES", "STATUS", "LAST USED"}, rows)
		},
	}
}

func newTokenRevokeCmd(d *deps) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usagef("token id %q is not a number", args[0])
			}
			c, err := d.client()
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), id); err != nil {
				return err
			}
			fmt.Fprintf(d.stdout, "token %d revoked\n", id)
			return nil
		},
	}
}
