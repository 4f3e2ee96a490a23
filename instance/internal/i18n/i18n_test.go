package i18n

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustLoad(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEveryKeyIsInEveryLanguage: a message added to one catalog and not the other
// fails here, naming the key.
func TestEveryKeyIsInEveryLanguage(t *testing.T) {
	for _, p := range sameKeys(mustLoad(t)) {
		t.Error(p)
	}
}

// sameKeys lists how the catalogs' keys differ from the English one's.
func sameKeys(c *Catalog) []string {
	want := c.Keys(Languages[0])
	if len(want) == 0 {
		return []string{"the English catalog is empty"}
	}
	var problems []string
	for _, l := range Languages[1:] {
		if diff := cmp.Diff(want, c.Keys(l)); diff != "" {
			problems = append(problems, fmt.Sprintf("keys of %s differ from %s (-%s +%s):\n%s", l, Languages[0], Languages[0], l, diff))
		}
	}
	return problems
}

// TestPlaceholdersAreTheSameInEveryLanguage: a translation that drops or renames a
// placeholder ({{.Email}}) fails here.
func TestPlaceholdersAreTheSameInEveryLanguage(t *testing.T) {
	for _, p := range samePlaceholders(mustLoad(t)) {
		t.Error(p)
	}
}

// samePlaceholders lists the messages whose placeholders differ between languages.
func samePlaceholders(c *Catalog) []string {
	var problems []string
	for _, key := range c.Keys(Languages[0]) {
		want := c.Placeholders(Languages[0], key)
		for _, l := range Languages[1:] {
			if !c.Has(l, key) {
				continue // TestEveryKeyIsInEveryLanguage names it
			}
			if diff := cmp.Diff(want, c.Placeholders(l, key)); diff != "" {
				problems = append(problems, fmt.Sprintf("%s: placeholders in %s differ (-%s +%s):\n%s", key, l, Languages[0], l, diff))
			}
		}
	}
	return problems
}

// TestNoMessageIsEmpty: an empty translation would show nothing on a page.
func TestNoMessageIsEmpty(t *testing.T) {
	c := mustLoad(t)
	for _, l := range Languages {
		for _, key := range c.Keys(l) {
			for form, s := range c.Forms(l, key) {
				if strings.TrimSpace(s) == "" {
					t.Errorf("%s %s (%s) is empty", l, key, form)
				}
			}
		}
	}
}

// pluralForms are the CLDR plural categories of cardinal numbers in each language:
// English and German both have one ("1 minute") and other ("0 minutes", "2 minutes").
var pluralForms = map[string][]string{"en": {"one", "other"}, "de": {"one", "other"}}

// TestPluralMessagesHaveEveryForm: a plural message (one with {{.Count}}) has exactly
// its language's categories, so that no language falls back to "1 minutes".
func TestPluralMessagesHaveEveryForm(t *testing.T) {
	c := mustLoad(t)
	for _, l := range Languages {
		for _, key := range c.Keys(l) {
			forms := c.Forms(l, key)
			if !slices.Contains(c.Placeholders(l, key), "Count") && len(forms) == 1 {
				continue
			}
			got := slices.Sorted(func(yield func(string) bool) {
				for f := range forms {
					if !yield(f) {
						return
					}
				}
			})
			if diff := cmp.Diff(pluralForms[l], got); diff != "" {
				t.Errorf("%s %s: plural forms (-want +got):\n%s", l, key, diff)
			}
		}
	}
}

func TestPlurals(t *testing.T) {
	c := mustLoad(t)
	for _, tc := range []struct {
		lang  string
		count int
		want  string
	}{
		{"en", 1, "1 minute"}, {"en", 2, "2 minutes"}, {"en", 0, "0 minutes"},
		{"de", 1, "1 Minute"}, {"de", 2, "2 Minuten"}, {"de", 0, "0 Minuten"},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.lang, tc.count), func(t *testing.T) {
			if got := c.For(tc.lang, nil).N("unit.minutes", tc.count); got != tc.want {
				t.Errorf("N(unit.minutes, %d) = %q, want %q", tc.count, got, tc.want)
			}
		})
	}
	// The page messages that say how long to wait.
	for _, key := range []string{"login.throttled", "chat.slow_down", "contact.slow_down", "account.password_throttled"} {
		for _, tc := range []struct {
			lang  string
			count int
			want  *regexp.Regexp
		}{
			{"en", 1, regexp.MustCompile(`\b1 minute\b`)}, {"en", 15, regexp.MustCompile(`\b15 minutes\b`)},
			{"de", 1, regexp.MustCompile(`\b1 Minute\b`)}, {"de", 15, regexp.MustCompile(`\b15 Minuten\b`)},
		} {
			if got := c.For(tc.lang, nil).N(key, tc.count); !tc.want.MatchString(got) {
				t.Errorf("%s %s with %d: %q does not match %s", tc.lang, key, tc.count, got, tc.want)
			}
		}
	}
}

func TestDatesAndTimes(t *testing.T) {
	c := mustLoad(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 13, 5, 0, 0, time.UTC) // 14:05 in Berlin
	for _, tc := range []struct {
		lang, what, got, want string
	}{
		{"de", "DateTime", c.For("de", berlin).DateTime(at), "1.12.2026, 14:05"},
		{"en", "DateTime", c.For("en", berlin).DateTime(at), "Dec 1, 2026, 2:05 PM"},
		{"de", "DateTime *time.Time", c.For("de", berlin).DateTime(&at), "1.12.2026, 14:05"},
		{"de", "DateTime nil", c.For("de", berlin).DateTime((*time.Time)(nil)), ""},
		{"de", "Date", c.For("de", berlin).Date(at), "1.12.2026"},
		{"en", "Date", c.For("en", berlin).Date(at), "Dec 1, 2026"},
		{"de", "Time", c.For("de", berlin).Time(at), "14:05"},
		{"en", "Time", c.For("en", berlin).Time(at), "2:05 PM"},
		{"de", "LongDate", c.For("de", berlin).LongDate(at), "Dienstag, 1. Dezember 2026"},
		{"en", "LongDate", c.For("en", berlin).LongDate(at), "Tuesday, December 1, 2026"},
		{"de", "UTC", c.For("de", nil).DateTime(at), "1.12.2026, 13:05"},
		{"de", "Day", c.For("de", berlin).Day("2026-12-24"), "24.12.2026"},
		{"en", "Day", c.For("en", berlin).Day("2026-12-24"), "Dec 24, 2026"},
		{"en", "Day not a date", c.For("en", berlin).Day("soon"), "soon"},
		{"de", "late evening in UTC is the next day in Berlin", c.For("de", berlin).Date(time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC)), "1.1.2027"},
	} {
		t.Run(tc.lang+"/"+tc.what, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// TestEveryValidationMessageIsRecognised renders each English validation message
// with sample values and checks that Field finds the same message again and shows it
// in German with the same values: the domain packages' English reasons never reach a
// German page.
func TestEveryValidationMessageIsRecognised(t *testing.T) {
	c := mustLoad(t)
	en, de := c.For("en", nil), c.For("de", nil)
	for _, key := range c.Keys("en") {
		if !strings.HasPrefix(key, validationPrefix) {
			continue
		}
		t.Run(key, func(t *testing.T) {
			var pairs []any
			for i, name := range c.Placeholders("en", key) {
				pairs = append(pairs, name, fmt.Sprintf("⟨%d⟩", i))
			}
			msg := en.T(key, pairs...)
			if got := en.Field(msg); got != msg {
				t.Errorf("English %q comes back as %q", msg, got)
			}
			if got, want := de.Field(msg), de.T(key, pairs...); got != want {
				t.Errorf("German of %q is %q, want %q", msg, got, want)
			}
		})
	}
	if got, want := de.Field("something no catalog knows"), de.T("validation.invalid"); got != want {
		t.Errorf("unknown message in German: %q, want %q", got, want)
	}
	if got := en.Field("something no catalog knows"); got != "something no catalog knows" {
		t.Errorf("unknown message in English: %q", got)
	}
	if got := de.Field(de.T("contact.consent_needed")); got != de.T("contact.consent_needed") {
		t.Errorf("a German text is shown as %q", got)
	}
}

// TestCatalogChecksFail shows that the checks above fail for a catalog with a key
// missing in German and for a translation that lost its placeholder.
func TestCatalogChecksFail(t *testing.T) {
	en, err := files.ReadFile("locales/en.toml")
	if err != nil {
		t.Fatal(err)
	}
	de, err := files.ReadFile("locales/de.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		de    string
		check func(*Catalog) []string
	}{
		{"key missing in German", removeLine(t, string(de), `"home.welcome" = `), sameKeys},
		{"placeholder lost in German", strings.Replace(string(de), "Willkommen, {{.Name}}.", "Willkommen.", 1), samePlaceholders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(fstest.MapFS{"locales/en.toml": {Data: en}, "locales/de.toml": {Data: []byte(tc.de)}})
			if err != nil {
				t.Fatal(err)
			}
			if problems := tc.check(c); len(problems) == 0 {
				t.Error("the check passed")
			} else {
				t.Log(problems)
			}
		})
	}
}

func removeLine(t *testing.T, s, prefix string) string {
	t.Helper()
	var out []string
	found := false
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			found = true
			continue
		}
		out = append(out, l)
	}
	if !found {
		t.Fatalf("no line starts with %s", prefix)
	}
	return strings.Join(out, "\n")
}
