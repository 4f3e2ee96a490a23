package chat

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// SettingsStore keeps instance settings.
type SettingsStore interface {
	Get(ctx context.Context, key string, v any) error
	Set(ctx context.Context, key string, v any, at time.Time) error
}

const originsKey = "chat.allowed_origins"

// Origins lists the websites allowed to embed the chat widget.
func (s *Service) Origins(ctx context.Context, st SettingsStore) ([]string, error) {
	out := []string{}
	err := st.Get(ctx, originsKey, &out)
	return out, err
}

// SetOrigins replaces the allowed websites. Each must be an origin:
// scheme://host[:port], nothing more. Returns a *accounts.ValidationError.
func (s *Service) SetOrigins(ctx context.Context, st SettingsStore, origins []string) ([]string, error) {
	clean := []string{}
	for _, o := range origins {
		u, err := url.Parse(strings.TrimSpace(o))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, &accounts.ValidationError{Fields: map[string]string{"origins": fmt.Sprintf("%q is not an origin such as https://www.example.com", o)}}
		}
		origin := strings.ToLower(u.Scheme + "://" + u.Host)
		if !slices.Contains(clean, origin) {
			clean = append(clean, origin)
		}
	}
	if len(clean) > 50 {
		return nil, &accounts.ValidationError{Fields: map[string]string{"origins": "at most 50 origins"}}
	}
	return clean, st.Set(ctx, originsKey, clean, s.clock.Now())
}
