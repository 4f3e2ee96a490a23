// Package i18n holds every text a person sees (pages, the chat widget, e-mails,
// validation messages) as message catalogs in English and German, and formats
// numbers of things, dates and times for a language and the instance's time zone.
//
// The catalogs are TOML files (locales/en.toml, locales/de.toml) read with
// nicksnyder/go-i18n: a message is a text/template with named placeholders
// ({{.Email}}), and a plural message has one text per CLDR plural category of its
// language, chosen by the count. Tests keep both files in step: the same keys, the
// same placeholders, every plural category.
package i18n

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed locales/*.toml
var files embed.FS

// Languages the catalogs are written in; the first is the fallback.
var Languages = []string{"en", "de"}

// Catalog is the parsed message files. It is read-only once loaded and safe for
// concurrent use.
type Catalog struct {
	bundle     *goi18n.Bundle
	localizers map[string]*goi18n.Localizer
	messages   map[string]map[string]*goi18n.Message // language → key → message
	fieldsOnce sync.Once
	fields     []fieldPattern             // English validation messages, most specific first; compiled on first use
	texts      map[string]map[string]bool // language → every text without placeholders
}

// fieldPattern recognises one English validation message ("is longer than 100
// characters") so that a field error from a domain package can be shown in another
// language with its values.
type fieldPattern struct {
	key     string
	re      *regexp.Regexp
	names   []string // placeholder names, in the order of re's groups
	literal int      // characters of fixed text: the more, the more specific
}

// Load parses the embedded catalogs. Returns an error if a file is not valid TOML
// or names a language other than Languages.
func Load() (*Catalog, error) {
	return load(files)
}

// MustLoad is Load for package initialisation: the catalogs are embedded, so an
// error is a bug that the package's tests catch.
func MustLoad() *Catalog { return shared() }

// shared is the one parsed copy of the embedded catalogs: they never change, and
// the web and notify packages both need them, so they are parsed once, not per user.
var shared = sync.OnceValue(loadEmbedded)

func loadEmbedded() *Catalog {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

func load(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{bundle: goi18n.NewBundle(language.English), localizers: map[string]*goi18n.Localizer{},
		messages: map[string]map[string]*goi18n.Message{}, texts: map[string]map[string]bool{}}
	c.bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	for _, lang := range Languages {
		name := "locales/" + lang + ".toml"
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read catalog: %w", err)
		}
		f, err := c.bundle.ParseMessageFileBytes(b, path.Base(name))
		if err != nil {
			return nil, fmt.Errorf("parse catalog %s: %w", name, err)
		}
		c.messages[lang], c.texts[lang] = map[string]*goi18n.Message{}, map[string]bool{}
		for _, m := range f.Messages {
			c.messages[lang][m.ID] = m
			c.texts[lang][m.Other] = true
		}
		c.localizers[lang] = goi18n.NewLocalizer(c.bundle, lang)
	}
	return c, nil
}

// fieldPatterns compiles the English validation messages into patterns, once, when
// the first field error is shown: most pages never show one, and a hundred compiled
// expressions are memory an idle instance would keep for nothing.
func (c *Catalog) fieldPatterns() []fieldPattern {
	c.fieldsOnce.Do(func() {
		for key, m := range c.messages[Languages[0]] {
			if strings.HasPrefix(key, validationPrefix) {
				c.fields = append(c.fields, newFieldPattern(key, m.Other))
			}
		}
		slices.SortFunc(c.fields, func(a, b fieldPattern) int {
			if a.literal != b.literal {
				return b.literal - a.literal
			}
			return strings.Compare(a.key, b.key)
		})
	})
	return c.fields
}

// validationPrefix starts the keys of the messages that explain a field error.
const validationPrefix = "validation."

func newFieldPattern(key, text string) fieldPattern {
	f := fieldPattern{key: key}
	var re strings.Builder
	re.WriteString("^")
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(text, -1) {
		re.WriteString(regexp.QuoteMeta(text[last:m[0]]))
		re.WriteString("(.+?)")
		f.literal += m[0] - last
		f.names = append(f.names, text[m[2]:m[3]])
		last = m[1]
	}
	re.WriteString(regexp.QuoteMeta(text[last:]))
	re.WriteString("$")
	f.literal += len(text) - last
	f.re = regexp.MustCompile(re.String())
	return f
}

// Keys lists the keys of lang's catalog, sorted.
func (c *Catalog) Keys(lang string) []string {
	keys := make([]string, 0, len(c.messages[lang]))
	for k := range c.messages[lang] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Has tells whether lang's catalog has key.
func (c *Catalog) Has(lang, key string) bool {
	_, ok := c.messages[lang][key]
	return ok
}

// Forms returns the texts of key in lang by plural category ("other" for a message
// without plural forms); nil if the key is missing.
func (c *Catalog) Forms(lang, key string) map[string]string {
	m, ok := c.messages[lang][key]
	if !ok {
		return nil
	}
	forms := map[string]string{}
	for name, s := range map[string]string{"zero": m.Zero, "one": m.One, "two": m.Two, "few": m.Few, "many": m.Many, "other": m.Other} {
		if s != "" {
			forms[name] = s
		}
	}
	return forms
}

var placeholder = regexp.MustCompile(`{{\s*\.([A-Za-z0-9_]+)\s*}}`)

// Placeholders returns the sorted, distinct placeholder names of key in lang over
// all its plural forms.
func (c *Catalog) Placeholders(lang, key string) []string {
	var names []string
	for _, s := range c.Forms(lang, key) {
		for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// For returns a Translator into lang (a catalog language; anything else falls back
// to English) that shows times in loc (UTC if nil).
func (c *Catalog) For(lang string, loc *time.Location) Translator {
	if _, ok := c.localizers[lang]; !ok {
		lang = Languages[0]
	}
	if loc == nil {
		loc = time.UTC
	}
	return Translator{c: c, lang: lang, loc: loc}
}

// Translator renders messages in one language and times in one zone. The zero value
// is not usable; get one from Catalog.For.
type Translator struct {
	c    *Catalog
	lang string
	loc  *time.Location
}

// Lang is the translator's language ("en" or "de").
func (t Translator) Lang() string { return t.lang }

// Location is the time zone the translator shows times in.
func (t Translator) Location() *time.Location { return t.loc }

// T renders key with placeholders given as name, value pairs, as in slog:
// T("users.created", "Email", u.Email). A key missing from the catalog shows itself,
// which the catalog tests catch before a release.
func (t Translator) T(key string, pairs ...any) string {
	return t.render(key, nil, pairs)
}

// N renders the plural message key for count ("1 minute", "2 minutes"); count is
// its {{.Count}} placeholder.
func (t Translator) N(key string, count int, pairs ...any) string {
	return t.render(key, count, pairs)
}

func (t Translator) render(key string, count any, pairs []any) string {
	if t.c == nil {
		return key
	}
	data := map[string]any{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if name, ok := pairs[i].(string); ok {
			data[name] = pairs[i+1]
		}
	}
	if count != nil {
		data["Count"] = count
	}
	s, err := t.c.localizers[t.lang].Localize(&goi18n.LocalizeConfig{MessageID: key, TemplateData: data, PluralCount: count})
	if err != nil && s == "" {
		return key
	}
	return s
}

// Field renders a field error that a domain package wrote in English ("is longer
// than 100 characters") in the translator's language, keeping its values. A message
// the catalog does not know is shown as it is in English and as a general "is not
// valid" in any other language, so that no untranslated text reaches a page.
func (t Translator) Field(msg string) string {
	if t.c == nil || t.c.texts[t.lang][msg] {
		return msg // already in the translator's language
	}
	for _, f := range t.c.fieldPatterns() {
		m := f.re.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		pairs := make([]any, 0, 2*len(f.names))
		for i, name := range f.names {
			pairs = append(pairs, name, m[i+1])
		}
		return t.T(f.key, pairs...)
	}
	if t.lang == Languages[0] {
		return msg
	}
	return t.T(validationPrefix + "invalid")
}

// Fields renders every field error of a form with Field; nil stays nil.
func (t Translator) Fields(fields map[string]string) map[string]string {
	if fields == nil {
		return nil
	}
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		out[k] = t.Field(v)
	}
	return out
}

// Date formats the day of tm in the translator's zone: "1.12.2026", "Dec 1, 2026".
func (t Translator) Date(tm time.Time) string { return t.layout("format.date", tm) }

// Day formats a calendar day written as 2006-01-02 ("24.12.2026", "Dec 24, 2026");
// anything else is shown as it is.
func (t Translator) Day(iso string) string {
	if t.c == nil {
		return iso
	}
	d, err := time.ParseInLocation(time.DateOnly, iso, t.loc)
	if err != nil {
		return iso
	}
	return t.Date(d)
}

// Time formats the time of day: "14:05", "2:05 PM".
func (t Translator) Time(tm time.Time) string { return t.layout("format.time", tm) }

// DateTime formats a moment: "1.12.2026, 14:05", "Dec 1, 2026, 2:05 PM". A nil or
// zero time is "".
func (t Translator) DateTime(tm any) string {
	switch v := tm.(type) {
	case time.Time:
		if !v.IsZero() {
			return t.layout("format.datetime", v)
		}
	case *time.Time:
		if v != nil && !v.IsZero() {
			return t.layout("format.datetime", *v)
		}
	}
	return ""
}

// LongDate names the weekday and month: "Dienstag, 1. Dezember 2026",
// "Tuesday, December 1, 2026".
func (t Translator) LongDate(tm time.Time) string {
	if t.c == nil {
		return tm.UTC().Format(time.RFC3339)
	}
	tm = tm.In(t.loc)
	return t.T("format.long_date", "Weekday", t.T(fmt.Sprintf("weekday.%d", tm.Weekday())),
		"Day", tm.Day(), "Month", t.T(fmt.Sprintf("month.%d", tm.Month())), "Year", tm.Year())
}

// Weekday names a day of the week in the translator's language.
func (t Translator) Weekday(d time.Weekday) string { return t.T(fmt.Sprintf("weekday.%d", d)) }

// Zone names the translator's time zone, as shown beside times ("Europe/Berlin").
func (t Translator) Zone() string {
	if t.loc == nil {
		return time.UTC.String()
	}
	return t.loc.String()
}

// layout formats tm with the Go layout the catalog holds under key for this language.
func (t Translator) layout(key string, tm time.Time) string {
	if t.c == nil {
		return tm.UTC().Format(time.RFC3339)
	}
	return tm.In(t.loc).Format(strings.TrimSpace(t.T(key)))
}

type langKey struct{}

// WithLang returns ctx carrying the language of the person a request comes from.
func WithLang(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, langKey{}, lang)
}

// LangFrom returns the language WithLang put in ctx, or "".
func LangFrom(ctx context.Context) string {
	l, _ := ctx.Value(langKey{}).(string)
	return l
}
