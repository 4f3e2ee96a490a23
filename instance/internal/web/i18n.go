package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/language"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/i18n"
)

// catalog holds every text the pages, the widget and the inbox show, in English and
// German: the TOML catalogs of package i18n, parsed once and never changed.
var catalog = i18n.MustLoad()

var langMatcher = language.NewMatcher([]language.Tag{language.English, language.German})

// lang picks the UI language: the user's setting, else the browser's Accept-Language.
func lang(r *http.Request, u *accounts.User) string {
	if u != nil && u.Locale != "" {
		return u.Locale
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	_, i, _ := langMatcher.Match(tags...)
	if i == 1 {
		return "de"
	}
	return "en"
}

// translate renders key in lang with its placeholders given as name, value pairs
// (translate("de", "users.created", "Email", u.Email)); a missing key shows itself,
// which the catalog tests catch before release.
func translate(lang, key string, pairs ...any) string {
	return catalog.For(lang, nil).T(key, pairs...)
}

// plural renders the plural message key for count in lang: "1 minute", "2 minutes".
func plural(lang, key string, count int, pairs ...any) string {
	return catalog.For(lang, nil).N(key, count, pairs...)
}

// fieldText shows a field error of a domain package in lang.
func fieldText(lang, msg string) string { return catalog.For(lang, nil).Field(msg) }

// ctxLang is the language withLanguage put in a request's context, "" if none (then
// English).
func ctxLang(ctx context.Context) string { return i18n.LangFrom(ctx) }

// translator is the request's translator: its language, and times in the instance's
// time zone (UTC until one is configured or when it cannot be read).
func (s *Server) translator(ctx context.Context, lang string) i18n.Translator {
	var loc *time.Location
	if s.opts.Booking != nil {
		if l, err := s.opts.Booking.Location(ctx); err == nil {
			loc = l
		} else {
			s.log.ErrorContext(ctx, "read time zone", "error", err.Error())
		}
	}
	return catalog.For(lang, loc)
}

// errorText says what an error page shows for status in lang: the page's own text for
// the statuses that have one, else the problem's detail in English, else a general
// text for the status in lang (a detail is English and never reaches a German page).
func errorText(lang string, status int, detail string) string {
	if key := fmt.Sprintf("error.%d", status); catalog.Has(lang, key) {
		return translate(lang, key)
	}
	if lang == i18n.Languages[0] && detail != "" && status < 500 {
		return detail
	}
	key := fmt.Sprintf("error.other.%d", status)
	if !catalog.Has(lang, key) {
		key = "error.other.400"
		if status >= 500 {
			key = "error.other.500"
		}
	}
	return translate(lang, key)
}

// withLanguage tells the request's context the language its browser asks for, so
// that an e-mail the request causes (a booking's confirmation, a contact form's
// receipt, a chat transcript) is written in the language the visitor used.
func withLanguage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if r := c.Request(); r.Header.Get("Accept-Language") != "" {
			c.SetRequest(r.WithContext(i18n.WithLang(r.Context(), lang(r, nil))))
		}
		return next(c)
	}
}

// widgetMarker in widget.js is where the widget's words go.
const widgetMarker = `/*TEXT*/{ "en": {} }`

// widgetJS is widget.js with the widget's words from the catalogs in place of its
// marker, made once: the catalog key widget.too_big is the script's T.tooBig.
var widgetJS = sync.OnceValues(func() ([]byte, error) {
	b, err := staticFiles.ReadFile("static/widget.js")
	if err != nil {
		return nil, err
	}
	words := map[string]map[string]string{}
	for _, l := range i18n.Languages {
		words[l] = map[string]string{}
		for _, key := range catalog.Keys(l) {
			if name, ok := strings.CutPrefix(key, "widget."); ok {
				words[l][camelCase(name)] = translate(l, key)
			}
		}
	}
	j, err := json.Marshal(words) // escapes <, > and & as \u003c…: safe in a script
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(b, []byte(widgetMarker)) {
		return nil, errors.New("widget script: no place for its words")
	}
	return bytes.Replace(b, []byte(widgetMarker), j, 1), nil
})

// camelCase turns too_big into tooBig.
func camelCase(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}
