package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// TokenStore is what the token use cases need of persistence.
type TokenStore interface {
	// CreateToken stores t and sets its ID.
	CreateToken(ctx context.Context, t *lifecycle.Token) error
	// FindTokenByHash returns a live token; lifecycle.ErrNotFound otherwise.
	FindTokenByHash(ctx context.Context, hash string) (lifecycle.Token, error)
	TouchToken(ctx context.Context, id int64, at time.Time) error
	ListTokens(ctx context.Context) ([]lifecycle.Token, error)
	// RevokeToken returns lifecycle.ErrNotFound for no live token of that id.
	RevokeToken(ctx context.Context, id int64, at time.Time) error
}

// TokenPrefix marks control-plane tokens for secret scanners.
const TokenPrefix = "spt_"

// hashToken is how API tokens are stored: SHA-256 of the secret, which is 256 random bits.
func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// Tokens is the API token use cases: tokens are made here, shown once, and kept only as
// hashes.
type Tokens struct {
	store TokenStore
	clock clock.Clock
	cache tokenCache
}

// NewTokens returns the token use cases.
func NewTokens(s TokenStore, c clock.Clock) *Tokens {
	if c == nil {
		c = clock.Real{}
	}
	return &Tokens{store: s, clock: c}
}

// Create makes a token and stores its hash. It returns the stored token and its
// secret, which is shown this once. Returns a *lifecycle.ValidationError.
func (t *Tokens) Create(ctx context.Context, req lifecycle.TokenRequest) (lifecycle.Token, string, error) {
	if err := req.Validate(); err != nil {
		return lifecycle.Token{}, "", err
	}
	raw := TokenPrefix + secret.Random(32)
	tok := lifecycle.Token{Name: req.Name, Hash: hashToken(raw), Scopes: req.Scopes, CreatedAt: t.clock.Now()}
	if err := t.store.CreateToken(ctx, &tok); err != nil {
		return lifecycle.Token{}, "", err
	}
	return tok, raw, nil
}

// List returns every token, revoked ones too.
func (t *Tokens) List(ctx context.Context) ([]lifecycle.Token, error) { return t.store.ListTokens(ctx) }

// Revoke revokes a live token; this process refuses it at once, others within tokenTTL.
// Returns lifecycle.ErrNotFound.
func (t *Tokens) Revoke(ctx context.Context, id int64) error {
	if err := t.store.RevokeToken(ctx, id, t.clock.Now()); err != nil {
		return err
	}
	t.cache.forget()
	return nil
}

// Authenticate finds the live token with this secret, through a cache, and records its
// use at most hourly. Returns lifecycle.ErrNotFound for an unknown or revoked token.
func (t *Tokens) Authenticate(ctx context.Context, raw string) (lifecycle.Token, error) {
	hash, now := hashToken(raw), t.clock.Now()
	e, ok := t.cache.get(hash, now)
	if !ok {
		tok, err := t.store.FindTokenByHash(ctx, hash)
		if err != nil {
			return lifecycle.Token{}, err
		}
		e = cachedToken{tok: tok, expires: now.Add(tokenTTL)}
	}
	if e.tok.LastUsedAt == nil || now.Sub(*e.tok.LastUsedAt) > time.Hour {
		if err := t.store.TouchToken(ctx, e.tok.ID, now); err != nil {
			return lifecycle.Token{}, err
		}
		e.tok.LastUsedAt = &now
		ok = false
	}
	if !ok {
		t.cache.put(hash, e)
	}
	return e.tok, nil
}

// tokenCache keeps resolved tokens for a few seconds: each request would otherwise
// read the token table before its own query. A revocation through this process drops
// the entry at once; one through another process takes effect within tokenTTL.
type tokenCache struct {
	mu      sync.Mutex
	entries map[string]cachedToken
}

type cachedToken struct {
	tok     lifecycle.Token
	expires time.Time
}

const (
	tokenTTL       = 5 * time.Second
	tokenCacheSize = 1024
)

func (tc *tokenCache) get(hash string, now time.Time) (cachedToken, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	e, ok := tc.entries[hash]
	if !ok || now.After(e.expires) {
		return cachedToken{}, false
	}
	return e, true
}

func (tc *tokenCache) put(hash string, e cachedToken) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.entries == nil || len(tc.entries) >= tokenCacheSize {
		tc.entries = map[string]cachedToken{}
	}
	tc.entries[hash] = e
}

// forget drops every cached token: called when one is revoked.
func (tc *tokenCache) forget() {
	tc.mu.Lock()
	tc.entries = nil
	tc.mu.Unlock()
}
