package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Scope is what an API token may do.
type Scope string

// The scopes; admin includes the other two.
const (
	ScopeRead  Scope = "instances:read"
	ScopeWrite Scope = "instances:write"
	ScopeAdmin Scope = "admin"
)

// Scopes lists the scopes a token may carry.
var Scopes = []Scope{ScopeRead, ScopeWrite, ScopeAdmin}

// Token is an API token; only the SHA-256 of its secret is stored.
type Token struct {
	ID         int64
	Name       string
	Hash       string
	Scopes     []string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Has tells whether the token carries scope s, admin carrying every scope.
func (t Token) Has(s Scope) bool {
	return slices.Contains(t.Scopes, string(s)) || slices.Contains(t.Scopes, string(ScopeAdmin))
}

// TokenRequest asks for a new token.
type TokenRequest struct {
	Name   string
	Scopes []string
}

// Validate checks a token request and trims its name. Returns a *ValidationError.
func (r *TokenRequest) Validate() error {
	r.Name = strings.TrimSpace(r.Name)
	f := map[string]string{}
	if r.Name == "" || len(r.Name) > 100 {
		f["name"] = "is required, at most 100 characters"
	}
	if len(r.Scopes) == 0 {
		f["scopes"] = "name at least one of instances:read, instances:write, admin"
	}
	for _, sc := range r.Scopes {
		if !slices.Contains(Scopes, Scope(sc)) {
			f["scopes"] = fmt.Sprintf("%q is not a scope (instances:read, instances:write, admin)", sc)
		}
	}
	return invalid(f)
}
