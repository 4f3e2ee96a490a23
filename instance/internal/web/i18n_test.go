package web

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/instance/internal/i18n"
)

// sharedKeys are the message groups any page may show; every other group belongs to
// one page (or a few pages of one area), so that no page shows another's text.
var sharedKeys = []string{"app", "nav", "field", "common", "form", "settings", "status", "priority", "kind", "role", "error", "readonly", "area", "lang", "unit"}

// keyOwners says which templates may use a page group besides the template of that name.
var keyOwners = map[string][]string{
	"book":             {"book", "book_manage", "bookings"},
	"bookings":         {"bookings"},
	"booking_settings": {"booking_settings"},
	"kb":               {"kb_article", "kb_category", "kb_home", "knowledge", "knowledge_edit", "ticket"},
	"kbstatus":         {"knowledge"},
	"tickets":          {"ticket", "ticket_new", "tickets"},
	"login":            {"login", "setup"},
	"setup":            {"setup"},
	"contact":          {"contact", "privacy", "book", "ticket_new", "tickets"},
	"privacy":          {"privacy"},
	"account":          {"account", "users", "ticket", "knowledge_edit"},
	"users":            {"users"},
	"audit":            {"audit"},
	"chat_settings":    {"chat_settings"},
	"notifications":    {"notifications"},
	"inbox":            {"inbox", "chat_settings"},
	"home":             {"home"},
}

// templateCall finds {{t .Lang "key" "Name" value …}} and {{n .Lang "key" count …}}.
var templateCall = regexp.MustCompile(`{{-?\s*(t|n) \$?\.Lang "([a-z_.0-9]+)"([^}]*)}}`)

var pairName = regexp.MustCompile(`"([A-Z][A-Za-z]*)"`)

// TestTemplatesAndHandlersUseKnownMessages checks every literal use of a message in
// the templates and in the handlers: the key is in both catalogs, the placeholders
// given are the message's, plural messages are rendered with n/plural, and a page's
// template uses its own or shared groups only.
func TestTemplatesAndHandlersUseKnownMessages(t *testing.T) {
	var uses []messageUse
	for _, name := range mustPages(t).Names() {
		b, err := templateFiles.ReadFile("templates/" + name + ".html")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range templateCall.FindAllStringSubmatch(string(b), -1) {
			var names []string
			for _, p := range pairName.FindAllStringSubmatch(m[3], -1) {
				names = append(names, p[1])
			}
			uses = append(uses, messageUse{"templates/" + name + ".html", m[2], m[1] == "n", names})
			group := m[2][:strings.IndexByte(m[2], '.')]
			if owners, ok := keyOwners[group]; !slices.Contains(sharedKeys, group) && !slices.Contains(owners, name) && (ok || group != name) {
				t.Errorf("template %s shows %q, a text of another page", name, m[2])
			}
		}
	}
	for _, n := range navigation {
		uses = append(uses, messageUse{"navigation", n.Key, false, nil})
	}
	uses = append(uses, goUses(t)...)
	for _, u := range uses {
		t.Run(u.where+"/"+u.key, func(t *testing.T) {
			for _, l := range i18n.Languages {
				if !catalog.Has(l, u.key) {
					t.Fatalf("%s uses %q, which the %s catalog lacks", u.where, u.key, l)
				}
			}
			want := catalog.Placeholders("en", u.key)
			if u.plural {
				want = slices.DeleteFunc(want, func(s string) bool { return s == "Count" })
			} else if slices.Contains(want, "Count") {
				t.Errorf("%s renders the plural message %q without a count", u.where, u.key)
			}
			got := slices.Sorted(slices.Values(u.names))
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); diff != "" && len(want)+len(got) > 0 {
				t.Errorf("%s gives %q placeholders (-want +got):\n%s", u.where, u.key, diff)
			}
		})
	}
}

// messageUse is one place that shows a message: the key and the placeholder names it
// passes.
type messageUse struct {
	where, key string
	plural     bool
	names      []string
}

// goUses finds the handlers' calls translate(lang, "key", "Name", v, …) and
// plural(lang, "key", n, "Name", v, …) with a literal key.
func goUses(t *testing.T) []messageUse {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []messageUse
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			id, ok := call.Fun.(*ast.Ident)
			if !ok || (id.Name != "translate" && id.Name != "plural") {
				return true
			}
			lit, ok := call.Args[1].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			key, _ := strconv.Unquote(lit.Value)
			rest := call.Args[2:]
			if id.Name == "plural" && len(rest) > 0 {
				rest = rest[1:]
			}
			var names []string
			for i := 0; i < len(rest); i += 2 {
				if l, ok := rest[i].(*ast.BasicLit); ok && l.Kind == token.STRING {
					s, _ := strconv.Unquote(l.Value)
					names = append(names, s)
				}
			}
			out = append(out, messageUse{fset.Position(call.Pos()).String(), key, id.Name == "plural", names})
			return true
		})
	}
	return out
}

// TestWidgetWordsComeFromTheCatalog: the served widget carries its words in both
// languages from the catalogs, and every word the script uses is there.
func TestWidgetWordsComeFromTheCatalog(t *testing.T) {
	js, err := widgetJS()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`var TEXT = (\{.*\});`).FindSubmatch(js)
	if m == nil {
		t.Fatalf("no words in the served widget:\n%.400s", js)
	}
	var words map[string]map[string]string
	if err := json.Unmarshal(m[1], &words); err != nil {
		t.Fatal(err)
	}
	src, err := staticFiles.ReadFile("static/widget.js")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, u := range regexp.MustCompile(`\bT\.([A-Za-z]+)`).FindAllSubmatch(src, -1) {
		used[string(u[1])] = true
	}
	if len(used) < 20 {
		t.Fatalf("the script uses only %d words", len(used))
	}
	for _, l := range i18n.Languages {
		for name := range used {
			key := "widget." + regexp.MustCompile(`[A-Z]`).ReplaceAllStringFunc(name, func(s string) string { return "_" + strings.ToLower(s) })
			if got, want := words[l][name], translate(l, key); got == "" || got != want {
				t.Errorf("%s T.%s = %q, want %q (%s)", l, name, got, want, key)
			}
		}
	}
	if words["de"]["open"] != "Chat öffnen" || words["en"]["open"] != "Open chat" {
		t.Errorf("open: %q, %q", words["de"]["open"], words["en"]["open"])
	}
}
