package chat

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sproudstack/sproudchat/instance"
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
// scheme://host[:port], nothing more. Returns an Invalid *instance.Error.
func (s *Service) SetOrigins(ctx context.Context, st SettingsStore, origins []string) ([]string, error) {
	clean := []string{}
	for _, o := range origins {
		u, err := url.Parse(strings.TrimSpace(o))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, instance.InvalidField("origins", "origin", "%q is not an origin such as https://www.example.com", o)
		}
		origin := strings.ToLower(u.Scheme + "://" + u.Host)
		if !slices.Contains(clean, origin) {
			clean = append(clean, origin)
		}
	}
	if len(clean) > 50 {
		return nil, instance.InvalidField("origins", "too_many_origins", "at most %d origins", 50)
	}
	return clean, st.Set(ctx, originsKey, clean, s.clock.Now())
}

const widgetKey = "chat.widget"

// Widget is how the widget looks and what it says before anyone answers.
type Widget struct {
	Colour      string `json:"colour"`       // #rrggbb
	Greeting    string `json:"greeting"`     // shown when the panel opens
	OfflineText string `json:"offline_text"` // above the leave-a-message form
}

// DefaultWidget is the widget before an admin changes it.
var DefaultWidget = Widget{Colour: "#1f6feb"}

// WidgetSettings returns the widget's look and texts.
func (s *Service) WidgetSettings(ctx context.Context, st SettingsStore) (Widget, error) {
	w := DefaultWidget
	err := st.Get(ctx, widgetKey, &w)
	return w, err
}

// Validate checks w; it returns an Invalid *instance.Error.
func (w Widget) Validate() error {
	p := instance.Fields{}
	if len(w.Colour) != 7 || w.Colour[0] != '#' || strings.Trim(strings.ToLower(w.Colour[1:]), "0123456789abcdef") != "" {
		p.Add("colour", "colour", "must be a colour such as #1f6feb")
	}
	if len([]rune(w.Greeting)) > 500 {
		p.Add("greeting", "max_chars", "at most %d characters", 500)
	}
	if len([]rune(w.OfflineText)) > 500 {
		p.Add("offline_text", "max_chars", "at most %d characters", 500)
	}
	return p.Err()
}

// SetWidgetSettings stores w after checking it.
func (s *Service) SetWidgetSettings(ctx context.Context, st SettingsStore, w Widget) error {
	if err := w.Validate(); err != nil {
		return err
	}
	w.Colour = strings.ToLower(w.Colour)
	return st.Set(ctx, widgetKey, w, s.clock.Now())
}
