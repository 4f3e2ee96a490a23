package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sproudstack/sproudchat/instance"
)

// NewUserInput is a user an admin creates.
type NewUserInput struct {
	Name, Email, Password string
	Role                  Role
}

// CreateUser adds a user. Returns an Invalid *instance.Error for bad fields and instance.ErrConflict if
// the e-mail is taken.
func (s *Service) CreateUser(ctx context.Context, by Principal, in NewUserInput, m Meta) (User, error) {
	u := User{Email: NormalizeEmail(in.Email), Name: strings.TrimSpace(in.Name), Role: in.Role, Active: true, TicketScope: ScopeAll}
	p := instance.Fields{}
	checkName(p, "name", u.Name)
	checkEmail(p, "email", u.Email)
	checkRole(p, "role", u.Role)
	checkPassword(p, "password", in.Password, u.Email)
	if err := p.Err(); err != nil {
		return User{}, err
	}
	if err := s.setPassword(ctx, &u, in.Password); err != nil {
		return User{}, err
	}
	a := s.audit(&by, m, ActionUserCreated, "user", "", fmt.Sprintf("%s as %s", u.Email, u.Role))
	if err := s.store.CreateUser(ctx, &u, a); err != nil {
		return User{}, fmt.Errorf("create user %s: %w", u.Email, err)
	}
	return u, nil
}

// ListUsers returns every user, ordered by name.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) { return s.store.ListUsers(ctx) }

// FindUser returns one user or instance.ErrNotFound.
func (s *Service) FindUser(ctx context.Context, id int64) (User, error) {
	return s.store.FindUser(ctx, id)
}

// UserChanges are the fields an admin may change; nil leaves a field as it is.
type UserChanges struct {
	Name        *string
	Role        *Role
	Active      *bool
	TicketScope *string
}

// UpdateUser changes another user's name, role or active flag. Returns instance.ErrNotFound,
// an Invalid *instance.Error, or ErrLastAdmin when no active admin would remain.
func (s *Service) UpdateUser(ctx context.Context, by Principal, id int64, c UserChanges, m Meta) (User, error) {
	u, err := s.store.FindUser(ctx, id)
	if err != nil {
		return User{}, err
	}
	p := instance.Fields{}
	var changes []string
	if c.Name != nil {
		name := strings.TrimSpace(*c.Name)
		checkName(p, "name", name)
		if name != u.Name {
			changes = append(changes, fmt.Sprintf("name: %q → %q", u.Name, name))
			u.Name = name
		}
	}
	if c.Role != nil {
		checkRole(p, "role", *c.Role)
		if *c.Role != u.Role {
			changes = append(changes, fmt.Sprintf("role: %s → %s", u.Role, *c.Role))
			u.Role = *c.Role
		}
	}
	if c.TicketScope != nil {
		if *c.TicketScope != ScopeAll && *c.TicketScope != ScopeAssigned {
			p.Add("ticket_scope", "one_of", "must be %s", "all or assigned")
		} else if *c.TicketScope != u.TicketScope {
			changes = append(changes, fmt.Sprintf("ticket scope: %s → %s", u.TicketScope, *c.TicketScope))
			u.TicketScope = *c.TicketScope
		}
	}
	if c.Active != nil && *c.Active != u.Active {
		if *c.Active {
			changes = append(changes, "reactivated")
		} else {
			changes = append(changes, "deactivated")
		}
		u.Active = *c.Active
	}
	if err := p.Err(); err != nil {
		return User{}, err
	}
	if len(changes) == 0 {
		return u, nil
	}
	a := s.audit(&by, m, ActionUserUpdated, "user", idOrEmpty(u.ID), u.Email+": "+strings.Join(changes, ", "))
	if err := s.store.UpdateUser(ctx, &u, a); err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	return u, nil
}

// ChangePassword changes the principal's own password after checking the current one,
// and ends every other session of theirs. The check is throttled as a login is: a wrong
// current password counts as a failed login of the account and of the address in m.
// Returns a Throttled *instance.Error while either has too many, ErrBusy when the instance hashes
// all it may at once, and an Invalid *instance.Error naming current_password when it is wrong.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string, m Meta) error {
	u, err := s.store.FindUser(ctx, p.User.ID)
	if err != nil {
		return err
	}
	// Reserved before the hash, as for a login, so attempts sent in parallel meet the
	// limit too; a wrong password keeps the reservation, a right one gives it back.
	fail, wait := s.throttle.reserve(u.Email, m.IP)
	if wait > 0 {
		return throttled(wait)
	}
	probs := instance.Fields{}
	ok, verr := s.verifyPassword(ctx, u.PasswordHash, current)
	switch {
	case verr != nil && (errors.Is(verr, ErrBusy) || ctx.Err() != nil):
		fail.cancel() // nothing was checked
		return verr
	case verr != nil:
		return fmt.Errorf("verify password of user %d: %w", u.ID, verr)
	case !ok:
		probs.Add("current_password", "wrong_password", "is not your current password")
	default:
		fail.cancel()
	}
	checkPassword(probs, "new_password", next, u.Email)
	if err := probs.Err(); err != nil {
		return err
	}
	if err := s.setPassword(ctx, &u, next); err != nil {
		return err
	}
	if err := s.store.UpdateUser(ctx, &u, s.audit(&p, m, ActionPasswordChanged, "user", idOrEmpty(u.ID), "")); err != nil {
		return fmt.Errorf("update password of user %d: %w", u.ID, err)
	}
	return s.store.DeleteUserSessions(ctx, u.ID, p.SessionHash)
}

// UpdateProfile changes the principal's own name and language.
func (s *Service) UpdateProfile(ctx context.Context, p Principal, name *string, locale *string, m Meta) (User, error) {
	u, err := s.store.FindUser(ctx, p.User.ID)
	if err != nil {
		return User{}, err
	}
	probs := instance.Fields{}
	if name != nil {
		u.Name = strings.TrimSpace(*name)
		checkName(probs, "name", u.Name)
	}
	if locale != nil {
		u.Locale = *locale
		checkLocale(probs, "locale", u.Locale)
	}
	if err := probs.Err(); err != nil {
		return User{}, err
	}
	a := s.audit(&p, m, ActionUserUpdated, "user", idOrEmpty(u.ID), u.Email+": own profile")
	if err := s.store.UpdateUser(ctx, &u, a); err != nil {
		return User{}, fmt.Errorf("update profile of user %d: %w", u.ID, err)
	}
	return u, nil
}
