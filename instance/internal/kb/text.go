package kb

import (
	"html"
	"strings"
	"unicode"

	snowball "github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/english"
	"github.com/blevesearch/snowballstem/german"
)

// Words splits text into lower-case words of letters and digits.
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// Stem reduces a lower-case word to its Snowball stem in lang ("de" or "en"), so that
// "Passwörter" and "Passwort", "refunds" and "refund" meet.
func Stem(lang, word string) string {
	env := snowball.NewEnv(word)
	if lang == "de" {
		german.Stem(env)
	} else {
		english.Stem(env)
	}
	return env.Current()
}

// Stems returns the stems of text's words, joined by spaces: what SQLite's index holds.
func Stems(lang, text string) string {
	ws := Words(text)
	for i, w := range ws {
		ws[i] = Stem(lang, w)
	}
	return strings.Join(ws, " ")
}

// QueryStems returns the distinct stems of a query in both languages: a visitor may
// search in either, whatever the article's language.
func QueryStems(query string) map[string]bool {
	out := map[string]bool{}
	for _, w := range Words(query) {
		out[Stem("de", w)] = true
		out[Stem("en", w)] = true
	}
	return out
}

// Highlight escapes text and wraps each word whose stem (in lang) is one of stems in
// <mark>. The result is safe HTML.
func Highlight(lang, text string, stems map[string]bool) string {
	var b strings.Builder
	word := []rune{}
	flush := func() {
		if len(word) == 0 {
			return
		}
		w := string(word)
		if stems[Stem(lang, strings.ToLower(w))] {
			b.WriteString("<mark>" + html.EscapeString(w) + "</mark>")
		} else {
			b.WriteString(html.EscapeString(w))
		}
		word = word[:0]
	}
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			word = append(word, r)
			continue
		}
		flush()
		b.WriteString(html.EscapeString(string(r)))
	}
	flush()
	return b.String()
}

// Snippet returns about n runes of plain text around the first word that matches stems.
func Snippet(lang, text string, stems map[string]bool, n int) string {
	rs := []rune(text)
	if len(rs) <= n {
		return text
	}
	at := 0
	pos := 0
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
		i := strings.Index(text[pos:], w)
		if i < 0 {
			break
		}
		pos += i
		if stems[Stem(lang, strings.ToLower(w))] {
			at = len([]rune(text[:pos]))
			break
		}
		pos += len(w)
	}
	start := max(0, at-n/3)
	end := min(len(rs), start+n)
	s := string(rs[start:end])
	if start > 0 {
		s = "…" + s
	}
	if end < len(rs) {
		s += "…"
	}
	return s
}
