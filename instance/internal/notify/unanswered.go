package notify

import (
	"context"
	"time"

	"github.com/sproudstack/sproudchat/instance"
)

// SettingsStore keeps the instance's settings, a JSON value per key.
type SettingsStore interface {
	Get(ctx context.Context, key string, v any) error
	Set(ctx context.Context, key string, v any, at time.Time) error
}

const unansweredKey = "notify.unanswered_minutes"

// UnansweredWait is how long a chat waits for a first answer before chat.unanswered
// is sent: an admin's setting, 5 minutes until set.
func UnansweredWait(ctx context.Context, st interface {
	Get(ctx context.Context, key string, v any) error
}) time.Duration {
	minutes := 5
	if err := st.Get(ctx, unansweredKey, &minutes); err != nil || minutes < 1 {
		minutes = 5
	}
	return time.Duration(minutes) * time.Minute
}

// SetUnansweredWait sets UnansweredWait to minutes, 1 to 1440 (a day). Returns an
// Invalid *instance.Error naming unanswered_minutes for any other number.
func SetUnansweredWait(ctx context.Context, st SettingsStore, minutes int, at time.Time) error {
	if minutes < 1 || minutes > 1440 {
		return instance.InvalidField("unanswered_minutes", "between", "must be between %d and %d", 1, 1440)
	}
	return st.Set(ctx, unansweredKey, minutes, at)
}
