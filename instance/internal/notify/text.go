package notify

import (
	"context"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/i18n"
)

// catalog holds the texts of the e-mails and notifications this package sends, in
// every language of package i18n; it is parsed once and never changes.
var catalog = i18n.MustLoad()

// translator returns the texts in the first of langs that is set (English if none)
// with times in the zone loc reports (UTC when loc is nil or fails).
func translator(ctx context.Context, loc func(context.Context) (*time.Location, error), langs ...string) i18n.Translator {
	lang := ""
	for _, l := range langs {
		if l != "" {
			lang = l
			break
		}
	}
	var zone *time.Location
	if loc != nil {
		if l, err := loc(ctx); err == nil {
			zone = l
		}
	}
	return catalog.For(lang, zone)
}
