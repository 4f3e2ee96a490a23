package accounts

import (
	"context"
	"fmt"
	"strings"

	"github.com/sproudstack/sproudchat/instance"
)

// NewToken is a freshly created API token; Secret is shown once and never stored.
type NewToken struct {
	APIToken
	Secret string
}

// CreateToken makes a personal API token for the principal. Returns
// an Invalid *instance.Error for a bad name.
func (s *Service) CreateToken(ctx context.Context, p Principal, name string, m Meta) (NewToken, error) {
	name = strings.TrimSpace(name)
	probs := instance.Fields{}
	checkName(probs, "name", name)
	if err := probs.Err(); err != nil {
		return NewToken{}, err
	}
	secret := TokenPrefix + NewSecret()
	t := APIToken{UserID: p.User.ID, Name: name, Prefix: secret[:len(TokenPrefix)+6], Hash: HashSecret(secret), CreatedAt: s.now()}
	a := s.audit(&p, m, ActionTokenCreated, "token", "", fmt.Sprintf("%q (%s…)", name, t.Prefix))
	if err := s.store.CreateToken(ctx, &t, a); err != nil {
		return NewToken{}, fmt.Errorf("create token: %w", err)
	}
	return NewToken{APIToken: t, Secret: secret}, nil
}

// ListTokens lists the principal's own tokens.
func (s *Service) ListTokens(ctx context.Context, p Principal) ([]APIToken, error) {
	return s.store.ListTokens(ctx, p.User.ID)
}

// RevokeToken deletes one of the principal's tokens. Returns instance.ErrNotFound for a token
// that does not exist or is someone else's.
func (s *Service) RevokeToken(ctx context.Context, p Principal, id int64, m Meta) error {
	return s.store.DeleteToken(ctx, p.User.ID, id, s.audit(&p, m, ActionTokenRevoked, "token", idOrEmpty(id), ""))
}

// ListAudit returns audit entries, newest first.
func (s *Service) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	return s.store.ListAudit(ctx, f)
}
