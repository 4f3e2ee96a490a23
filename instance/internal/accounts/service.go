// Package accounts holds the people of an instance: users, roles and permissions,
// password hashing, sessions, API tokens, login throttling and the audit log. It knows
// nothing of HTTP or SQL; Store is implemented by the store package.
package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Store is what the service needs from persistence. Every write that the audit log
// must record takes its entry, so both land in one transaction.
type Store interface {
	SetupDone(ctx context.Context) (bool, error)
	// CompleteSetup creates the first admin. Returns instance.ErrGone if setup was done before.
	CompleteSetup(ctx context.Context, u *User, a AuditEntry) error
	// CreateUser returns instance.ErrConflict if the e-mail is taken.
	CreateUser(ctx context.Context, u *User, a AuditEntry) error
	// UpdateUser saves name, role, active, locale and password hash; deactivation
	// removes the user's sessions. Returns instance.ErrNotFound, or ErrLastAdmin if no active
	// admin would remain.
	UpdateUser(ctx context.Context, u *User, a AuditEntry) error
	FindUser(ctx context.Context, id int64) (User, error)
	FindUserByEmail(ctx context.Context, email string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)

	CreateSession(ctx context.Context, s Session, lastLogin time.Time, a AuditEntry) error
	// FindSessionUser returns the user of a live session. Returns instance.ErrNotFound for an
	// unknown or expired session.
	FindSessionUser(ctx context.Context, hash string, now time.Time) (User, error)
	DeleteSession(ctx context.Context, hash string, a AuditEntry) error
	DeleteUserSessions(ctx context.Context, userID int64, exceptHash string) error

	CreateToken(ctx context.Context, t *APIToken, a AuditEntry) error
	FindTokenByHash(ctx context.Context, hash string) (APIToken, User, error)
	ListTokens(ctx context.Context, userID int64) ([]APIToken, error)
	// DeleteToken returns instance.ErrNotFound unless the token exists and belongs to userID.
	DeleteToken(ctx context.Context, userID, id int64, a AuditEntry) error
	TouchToken(ctx context.Context, id int64, at time.Time) error

	AddAudit(ctx context.Context, a AuditEntry) error
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// Options configure a Service.
type Options struct {
	Clock      clock.Clock
	SecretKey  []byte // signs CSRF tokens
	SetupToken string // the one-time token for the first admin
	SessionTTL time.Duration
	Throttle   ThrottleOptions
	Hash       HashParams
	Gate       GateOptions
}

// Service is the accounts use cases.
type Service struct {
	store    Store
	opts     Options
	throttle *throttle
	gate     *hashGate
	// dummyHash is verified against when an e-mail is unknown, so that a login takes
	// as long whether or not the account exists. Made on first use: hashing costs
	// argon2's memory, which an idle instance should not hold.
	dummyOnce sync.Once
	dummyHash string
}

// NewService returns a Service. Zero options take the defaults.
func NewService(store Store, o Options) (*Service, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 7 * 24 * time.Hour
	}
	if o.Throttle == (ThrottleOptions{}) {
		o.Throttle = DefaultThrottle
	}
	if o.Hash == (HashParams{}) {
		o.Hash = DefaultHashParams
	}
	if len(o.SecretKey) < 32 {
		return nil, errors.New("new accounts service: secret key shorter than 32 bytes")
	}
	return &Service{store: store, opts: o, throttle: newThrottle(o.Clock, o.Throttle), gate: newHashGate(o.Gate)}, nil
}

// dummy returns the hash to verify against when an e-mail is unknown. It is made
// with the cost parameters but without running argon2: verifying against it costs as
// much as a real hash, and making it costs nothing.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		b64 := base64.RawStdEncoding
		s.dummyHash = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, s.opts.Hash.MemoryKiB,
			s.opts.Hash.Time, s.opts.Hash.Threads, b64.EncodeToString(randomBytes(saltLen)), b64.EncodeToString(randomBytes(keyLen)))
	})
	return s.dummyHash
}

func (s *Service) now() time.Time { return s.opts.Clock.Now() }

// SetupPending tells whether the first admin is still to be created.
func (s *Service) SetupPending(ctx context.Context) (bool, error) {
	done, err := s.store.SetupDone(ctx)
	return !done, err
}

// CheckSetupToken returns instance.ErrForbidden unless token is the setup token, and instance.ErrGone
// once setup is done.
func (s *Service) CheckSetupToken(ctx context.Context, token string) error {
	if done, err := s.store.SetupDone(ctx); err != nil {
		return err
	} else if done {
		return fmt.Errorf("%w: setup is already complete", instance.ErrGone)
	}
	if s.opts.SetupToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.SetupToken)) != 1 {
		return fmt.Errorf("%w: the setup link is not valid", instance.ErrForbidden)
	}
	return nil
}

// SetupInput is the first admin.
type SetupInput struct {
	Token, Name, Email, Password string
}

// Setup creates the first admin with the one-time setup token. Returns instance.ErrForbidden for
// a wrong token, instance.ErrGone once setup is done, an Invalid *instance.Error for bad fields.
func (s *Service) Setup(ctx context.Context, in SetupInput, m Meta) (User, error) {
	if err := s.CheckSetupToken(ctx, in.Token); err != nil {
		return User{}, err
	}
	u := User{Email: NormalizeEmail(in.Email), Name: strings.TrimSpace(in.Name), Role: RoleAdmin, Active: true, TicketScope: ScopeAll}
	p := instance.Fields{}
	checkName(p, "name", u.Name)
	checkEmail(p, "email", u.Email)
	checkPassword(p, "password", in.Password, u.Email)
	if err := p.Err(); err != nil {
		return User{}, err
	}
	if err := s.setPassword(ctx, &u, in.Password); err != nil {
		return User{}, err
	}
	a := s.audit(nil, m, ActionSetup, "user", "", "first admin "+u.Email)
	if err := s.store.CompleteSetup(ctx, &u, a); err != nil {
		return User{}, fmt.Errorf("complete setup: %w", err)
	}
	return u, nil
}

// LoginResult is a new browser session: Token goes into the cookie, never the database.
type LoginResult struct {
	Token     string
	Principal Principal
	ExpiresAt time.Time
}

// Login checks e-mail and password. Returns a Throttled *instance.Error while the account or address
// has too many recent failures, instance.ErrUnauthorized for wrong credentials or an inactive
// user (one message for all, so it reveals no account).
func (s *Service) Login(ctx context.Context, email, password string, m Meta) (LoginResult, error) {
	email = NormalizeEmail(email)
	acct, ip := email, m.IP
	fail, wait := s.throttle.reserve(acct, ip)
	if wait > 0 {
		return LoginResult{}, throttled(wait)
	}
	u, err := s.store.FindUserByEmail(ctx, email)
	hash := u.PasswordHash
	if errors.Is(err, instance.ErrNotFound) {
		hash = s.dummy()
	} else if err != nil {
		return LoginResult{}, fmt.Errorf("find user: %w", err)
	}
	ok, verr := s.verifyPassword(ctx, hash, password)
	if verr != nil && (errors.Is(verr, ErrBusy) || ctx.Err() != nil) {
		fail.cancel() // nothing was checked: this attempt must not count as a failure
		return LoginResult{}, verr
	} else if verr != nil {
		return LoginResult{}, fmt.Errorf("verify password of user %d: %w", u.ID, verr)
	}
	if !ok || err != nil || !u.Active {
		a := s.audit(nil, m, ActionLoginFailed, "user", idOrEmpty(u.ID), "")
		a.ActorEmail = email
		if aerr := s.store.AddAudit(ctx, a); aerr != nil {
			return LoginResult{}, fmt.Errorf("audit failed login: %w", aerr)
		}
		return LoginResult{}, fmt.Errorf("%w: wrong e-mail or password", instance.ErrUnauthorized)
	}
	s.throttle.succeeded(fail, acct)
	token := NewSecret()
	now := s.now()
	sess := Session{Hash: HashSecret(token), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.opts.SessionTTL), IP: m.IP, UserAgent: truncate(m.UserAgent, 255)}
	p := Principal{User: u, SessionHash: sess.Hash}
	if err := s.store.CreateSession(ctx, sess, now, s.audit(&p, m, ActionLogin, "user", idOrEmpty(u.ID), "")); err != nil {
		return LoginResult{}, fmt.Errorf("create session: %w", err)
	}
	p.User.LastLoginAt = &now
	p.CSRFToken = s.csrf(sess.Hash)
	return LoginResult{Token: token, Principal: p, ExpiresAt: sess.ExpiresAt}, nil
}

// Logout ends the principal's session.
func (s *Service) Logout(ctx context.Context, p Principal, m Meta) error {
	if !p.ViaSession() {
		return nil
	}
	return s.store.DeleteSession(ctx, p.SessionHash, s.audit(&p, m, ActionLogout, "user", idOrEmpty(p.User.ID), ""))
}

// AuthenticateSession resolves a session cookie. Returns instance.ErrUnauthorized for an unknown,
// expired or deactivated one.
func (s *Service) AuthenticateSession(ctx context.Context, token string) (Principal, error) {
	hash := HashSecret(token)
	u, err := s.store.FindSessionUser(ctx, hash, s.now())
	if errors.Is(err, instance.ErrNotFound) || (err == nil && !u.Active) {
		return Principal{}, instance.ErrUnauthorized
	} else if err != nil {
		return Principal{}, fmt.Errorf("find session: %w", err)
	}
	return Principal{User: u, SessionHash: hash, CSRFToken: s.csrf(hash)}, nil
}

// AuthenticateToken resolves a Bearer token. Returns instance.ErrUnauthorized for an unknown
// token or a deactivated user.
func (s *Service) AuthenticateToken(ctx context.Context, token string) (Principal, error) {
	if !strings.HasPrefix(token, TokenPrefix) {
		return Principal{}, instance.ErrUnauthorized
	}
	t, u, err := s.store.FindTokenByHash(ctx, HashSecret(token))
	if errors.Is(err, instance.ErrNotFound) || (err == nil && !u.Active) {
		return Principal{}, instance.ErrUnauthorized
	} else if err != nil {
		return Principal{}, fmt.Errorf("find token: %w", err)
	}
	// Record use at most hourly: a write per request would cost more than it tells.
	if now := s.now(); t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Hour {
		if err := s.store.TouchToken(ctx, t.ID, now); err != nil {
			return Principal{}, fmt.Errorf("touch token %d: %w", t.ID, err)
		}
	}
	return Principal{User: u, TokenID: t.ID}, nil
}

// CheckCSRF tells whether token is the CSRF token of the principal's session.
func (s *Service) CheckCSRF(p Principal, token string) bool {
	return p.ViaSession() && token != "" && hmac.Equal([]byte(token), []byte(s.csrf(p.SessionHash)))
}

func (s *Service) csrf(sessionHash string) string { return mac(s.opts.SecretKey, "csrf", sessionHash) }

func (s *Service) setPassword(ctx context.Context, u *User, password string) error {
	h, err := s.hashPassword(ctx, password)
	if errors.Is(err, ErrBusy) {
		return err
	} else if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	u.PasswordHash = h
	return nil
}

func (s *Service) audit(p *Principal, m Meta, action, targetType, targetID, detail string) AuditEntry {
	a := AuditEntry{At: s.now(), Action: action, TargetType: targetType, TargetID: targetID, Detail: detail, IP: m.IP}
	if p != nil {
		a.ActorID, a.ActorEmail = p.User.ID, p.User.Email
	}
	return a
}

func idOrEmpty(id int64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprint(id)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
