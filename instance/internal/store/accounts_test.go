package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// cheap keeps argon2 fast in tests that hash many passwords; the real parameters are
// covered by the accounts and web tests.
var cheap = accounts.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}

const setupToken = "setup-token-0123456789"

func newService(t *testing.T, db *store.DB, c clock.Clock) (*accounts.Service, *store.Accounts) {
	t.Helper()
	st := store.NewAccounts(db)
	svc, err := accounts.NewService(st, accounts.Options{Clock: c, SecretKey: make([]byte, 32), SetupToken: setupToken, Hash: cheap})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st
}

func mustSetup(t *testing.T, svc *accounts.Service) accounts.User {
	t.Helper()
	u, err := svc.Setup(context.Background(), accounts.SetupInput{Token: setupToken, Name: "Ada Admin", Email: "Ada@Example.org", Password: "correct horse battery"}, accounts.Meta{IP: "127.0.0.1"})
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	return u
}

func TestSetupWorksOnce(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, st := newService(t, db, clock.Real{})
		if err := svc.CheckSetupToken(ctx, "wrong-token-xxxxxxxx"); !errors.Is(err, instance.ErrForbidden) {
			t.Fatalf("wrong token: %v, want ErrForbidden", err)
		}
		u := mustSetup(t, svc)
		type seen struct {
			Email  string
			Role   accounts.Role
			Stored bool // has an id
		}
		if diff := cmp.Diff(seen{"ada@example.org", accounts.RoleAdmin, true}, seen{u.Email, u.Role, u.ID != 0}); diff != "" {
			t.Fatalf("first admin (-want +got):\n%s", diff)
		}
		_, err := svc.Setup(ctx, accounts.SetupInput{Token: setupToken, Name: "Eve", Email: "eve@example.org", Password: "another long password"}, accounts.Meta{})
		if !errors.Is(err, instance.ErrGone) {
			t.Fatalf("second setup: %v, want ErrGone", err)
		}
		users, _ := st.ListUsers(ctx)
		if len(users) != 1 {
			t.Fatalf("%d users after a refused second setup, want 1", len(users))
		}
	})
}

func TestUsersRolesAndLastAdmin(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _ := newService(t, db, clock.Real{})
		admin := accounts.Principal{User: mustSetup(t, svc)}
		agent, err := svc.CreateUser(ctx, admin, accounts.NewUserInput{Name: "Al Agent", Email: "al@example.org", Password: "a fine long password", Role: accounts.RoleAgent}, accounts.Meta{})
		if err != nil {
			t.Fatalf("create agent: %v", err)
		}
		_, err = svc.CreateUser(ctx, admin, accounts.NewUserInput{Name: "Dup", Email: "AL@example.org", Password: "a fine long password", Role: accounts.RoleAgent}, accounts.Meta{})
		if !errors.Is(err, instance.ErrConflict) {
			t.Fatalf("duplicate e-mail: %v, want ErrConflict", err)
		}
		sup := accounts.RoleSupervisor
		u, err := svc.UpdateUser(ctx, admin, agent.ID, accounts.UserChanges{Role: &sup}, accounts.Meta{})
		if err != nil {
			t.Fatalf("change role: %v", err)
		}
		if u.Role != sup {
			t.Fatalf("change role: role %s, want %s", u.Role, sup)
		}
		off := false
		if _, err := svc.UpdateUser(ctx, admin, admin.User.ID, accounts.UserChanges{Active: &off}, accounts.Meta{}); !errors.Is(err, accounts.ErrLastAdmin) {
			t.Fatalf("deactivating the last admin: %v, want ErrLastAdmin", err)
		}
		if got, _ := svc.FindUser(ctx, admin.User.ID); !got.Active {
			t.Fatal("last admin was deactivated despite the error")
		}
		if _, err := svc.UpdateUser(ctx, admin, 99999, accounts.UserChanges{Active: &off}, accounts.Meta{}); !errors.Is(err, instance.ErrNotFound) {
			t.Fatalf("unknown user: %v, want ErrNotFound", err)
		}
		entries, err := svc.ListAudit(ctx, accounts.AuditFilter{Action: accounts.ActionUserUpdated})
		if err != nil {
			t.Fatalf("audit of role change: %v", err)
		}
		var details []string
		for _, e := range entries {
			details = append(details, e.Detail)
		}
		if diff := cmp.Diff([]string{"al@example.org: role: agent → supervisor"}, details); diff != "" {
			t.Fatalf("audit of role change (-want +got):\n%s", diff)
		}
	})
}

func TestSessionsExpireAndDeactivationEndsThem(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
		svc, _ := newService(t, db, clk)
		admin := accounts.Principal{User: mustSetup(t, svc)}
		if _, err := svc.CreateUser(ctx, admin, accounts.NewUserInput{Name: "Vi", Email: "vi@example.org", Password: "viewer password 1", Role: accounts.RoleViewer}, accounts.Meta{}); err != nil {
			t.Fatal(err)
		}
		res, err := svc.Login(ctx, "vi@example.org", "viewer password 1", accounts.Meta{IP: "10.0.0.1"})
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		p, err := svc.AuthenticateSession(ctx, res.Token)
		if err != nil {
			t.Fatalf("session: %v", err)
		}
		type seen struct {
			Email     string
			CSRFValid bool
		}
		if diff := cmp.Diff(seen{"vi@example.org", true}, seen{p.User.Email, svc.CheckCSRF(p, res.Principal.CSRFToken)}); diff != "" {
			t.Fatalf("session (-want +got):\n%s", diff)
		}
		if svc.CheckCSRF(p, "forged") {
			t.Fatal("a forged CSRF token was accepted")
		}
		off := false
		if _, err := svc.UpdateUser(ctx, admin, p.User.ID, accounts.UserChanges{Active: &off}, accounts.Meta{}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AuthenticateSession(ctx, res.Token); !errors.Is(err, instance.ErrUnauthorized) {
			t.Fatalf("session of a deactivated user: %v, want ErrUnauthorized", err)
		}
		if _, err := svc.Login(ctx, "vi@example.org", "viewer password 1", accounts.Meta{}); !errors.Is(err, instance.ErrUnauthorized) {
			t.Fatalf("login of a deactivated user: %v, want ErrUnauthorized", err)
		}
		res, err = svc.Login(ctx, "ada@example.org", "correct horse battery", accounts.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(7*24*time.Hour + time.Second)
		if _, err := svc.AuthenticateSession(ctx, res.Token); !errors.Is(err, instance.ErrUnauthorized) {
			t.Fatalf("expired session: %v, want ErrUnauthorized", err)
		}
	})
}

func TestTokensAreHashedAndOwned(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _ := newService(t, db, clock.Real{})
		admin := accounts.Principal{User: mustSetup(t, svc)}
		other, err := svc.CreateUser(ctx, admin, accounts.NewUserInput{Name: "Ot", Email: "ot@example.org", Password: "other password 12", Role: accounts.RoleAgent}, accounts.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := svc.CreateToken(ctx, admin, "deploy script", accounts.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		var stored int64
		db.Gorm().Raw("SELECT COUNT(*) FROM api_tokens WHERE hash = ? OR prefix = ? OR name = ?", tok.Secret, tok.Secret, tok.Secret).Scan(&stored)
		if stored != 0 {
			t.Fatal("the token secret is stored in clear")
		}
		p, err := svc.AuthenticateToken(ctx, tok.Secret)
		if err != nil {
			t.Fatalf("authenticate token: %v", err)
		}
		type seen struct {
			UserID     int64
			ViaSession bool
		}
		if diff := cmp.Diff(seen{UserID: admin.User.ID}, seen{p.User.ID, p.ViaSession()}); diff != "" {
			t.Fatalf("authenticate token (-want +got):\n%s", diff)
		}
		if err := svc.RevokeToken(ctx, accounts.Principal{User: other}, tok.ID, accounts.Meta{}); !errors.Is(err, instance.ErrNotFound) {
			t.Fatalf("revoking someone else's token: %v, want ErrNotFound", err)
		}
		if err := svc.RevokeToken(ctx, admin, tok.ID, accounts.Meta{}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AuthenticateToken(ctx, tok.Secret); !errors.Is(err, instance.ErrUnauthorized) {
			t.Fatalf("revoked token: %v, want ErrUnauthorized", err)
		}
	})
}
