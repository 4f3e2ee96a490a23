package serve

import (
	"context"
	"fmt"

	"filippo.io/age"

	"github.com/sproudstack/sproudchat/controlplane/internal/backups"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
)

// openVault opens the backup target and the vault over it, keyed with the control
// plane's own identity (made on the first start, kept sealed in the store) and every
// offline recipient. Only the public recipient is logged. Returns nil when backups
// are off: no target, or a runtime that cannot run the instance's backup tool.
func openVault(ctx context.Context, cfg Config, in parts, st *store.Store, clk clock.Clock) (*vault.Vault, provisioning.Tools, error) {
	log := in.log
	if cfg.BackupTarget == "" {
		log.WarnContext(ctx, "backups are off: no --backup-target")
		return nil, nil, nil
	}
	tools, ok := in.rt.(provisioning.Tools)
	if !ok {
		log.WarnContext(ctx, "backups are off: this runtime cannot run an instance's backup tool", "runtime", fmt.Sprintf("%T", in.rt))
		return nil, nil, nil
	}
	target, err := vault.OpenTarget(ctx, cfg.BackupTarget)
	if err != nil {
		return nil, nil, fmt.Errorf("--backup-target: %w", err)
	}
	id, err := backups.Identity(ctx, st, in.box)
	if err != nil {
		return nil, nil, err
	}
	recipients := []age.Recipient{id.Recipient()}
	offline := make([]string, len(cfg.BackupRecipients))
	for i, r := range cfg.BackupRecipients {
		recipients = append(recipients, r)
		offline[i] = r.String()
	}
	log.InfoContext(ctx, "backups on", "target", cfg.BackupTarget, "recipient", id.Recipient().String(), "offline_recipients", offline)
	if len(offline) == 0 {
		log.WarnContext(ctx, "no --backup-recipient: backups open only with this control plane's key, kept in its database; "+
			"make an offline key with sproudctl backup keygen")
	}
	return vault.New(vault.Options{Target: target, Identities: []age.Identity{id}, Recipients: recipients, Clock: clk}), tools, nil
}

// nudgeLater wakes the reconciler made after the backups service that needs it.
type nudgeLater struct{ nudge func() }

func (n *nudgeLater) Nudge() {
	if n.nudge != nil {
		n.nudge()
	}
}
