package web

import (
	"encoding/json"
	"fmt"
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
	"history":          {"ticket"},
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

// goUses finds the calls with a literal key in the handlers and in notify:
// translate(lang, "key", "Name", v, …), plural(lang, "key", n, …), and a
// translator's T("key", …) and N("key", n, …).
func goUses(t *testing.T) []messageUse {
	t.Helper()
	var out []messageUse
	fset := token.NewFileSet()
	for _, file := range parseSources(t, fset, ".", "../notify") {
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var name string
			var args []ast.Expr
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				if (fn.Name == "translate" || fn.Name == "plural") && len(call.Args) >= 2 {
					name, args = fn.Name, call.Args[1:]
				}
			case *ast.SelectorExpr:
				if (fn.Sel.Name == "T" || fn.Sel.Name == "N") && len(call.Args) >= 1 {
					name, args = map[string]string{"T": "translate", "N": "plural"}[fn.Sel.Name], call.Args
				}
			}
			if name == "" {
				return true
			}
			lit, ok := args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			key, _ := strconv.Unquote(lit.Value)
			rest := args[1:]
			if name == "plural" && len(rest) > 0 {
				rest = rest[1:]
			}
			var names []string
			for i := 0; i < len(rest); i += 2 {
				if l, ok := rest[i].(*ast.BasicLit); ok && l.Kind == token.STRING {
					s, _ := strconv.Unquote(l.Value)
					names = append(names, s)
				}
			}
			out = append(out, messageUse{fset.Position(call.Pos()).String(), key, name == "plural", names})
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

// TestEveryValidationMessageIsInTheCatalog reads the domain packages and the
// handlers for the reasons they give a field (Problems.Add, ValidationError literals,
// the notification targets' URL checks, the handlers' conflict messages) and checks
// that the catalog knows each, so a German page shows its translation and not the
// catch-all "ist ungültig".
func TestEveryValidationMessageIsInTheCatalog(t *testing.T) {
	de := catalog.For("de", nil)
	fallback := de.T("validation.invalid")
	var found []messageUse
	fset := token.NewFileSet()
	for _, file := range parseSources(t, fset, "../accounts", "../booking", "../chat", "../kb", "../notify", "../tickets", ".") {
		add := func(n ast.Node, e ast.Expr) {
			if s, ok := sampleText(e); ok && strings.Contains(s, " ") {
				found = append(found, messageUse{where: fset.Position(n.Pos()).String(), key: s})
			}
		}
		fn := ""
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				fn = n.Name.Name
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				switch {
				case ok && sel.Sel.Name == "Add" && len(n.Args) == 2:
					add(n, n.Args[1]) // Problems.Add(field, reason)
				case ok && (sel.Sel.Name == "Add" || sel.Sel.Name == "InvalidField") && len(n.Args) >= 3:
					// instance.Fields.Add / instance.InvalidField(field, code, english, args...)
					if s, ok := sampleFormat(n.Args[2], n.Args[3:]); ok && strings.Contains(s, " ") {
						found = append(found, messageUse{where: fset.Position(n.Pos()).String(), key: s})
					}
				case ok && sel.Sel.Name == "New" && isIdent(sel.X, "errors") && len(n.Args) == 1 && fn == "checkTargetURL":
					add(n, n.Args[0]) // checkTargetURL's reasons
				}
			case *ast.CompositeLit:
				if m, ok := n.Type.(*ast.MapType); ok && isIdent(m.Key, "string") && isIdent(m.Value, "string") {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							add(kv, kv.Value) // Fields: map[string]string{"field": "reason"}
						}
					}
				}
			}
			return true
		})
	}
	t.Logf("%d validation messages", len(found))
	if len(found) < 60 {
		t.Fatalf("found only %d validation messages", len(found))
	}
	for _, u := range found {
		if u.key == "some fields are invalid" || strings.HasPrefix(u.where, "health.go") {
			continue // the problem's detail; the health answer's reason
		}
		if de.Field(u.key) == fallback && u.key != catalog.For("en", nil).T("validation.invalid") {
			t.Errorf("%s: %q has no catalog message", u.where, u.key)
		}
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

var verb = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)

// sampleText is the text e makes with a sample value for every part not known before
// it runs: literals as they are, fmt.Sprintf's verbs and other expressions as "7".
// sampleFormat is the English text of a field error: its format with the arguments
// filled in where they are literals, else a sample number.
func sampleFormat(format ast.Expr, args []ast.Expr) (string, bool) {
	f, ok := sampleText(format)
	if !ok {
		return "", false
	}
	var vals []any
	for _, a := range args {
		lit, ok := a.(*ast.BasicLit)
		if !ok {
			return verb.ReplaceAllString(f, "7"), true
		}
		switch lit.Kind {
		case token.INT:
			n, _ := strconv.Atoi(lit.Value)
			vals = append(vals, n)
		case token.STRING:
			v, _ := strconv.Unquote(lit.Value)
			vals = append(vals, v)
		default:
			return verb.ReplaceAllString(f, "7"), true
		}
	}
	if len(vals) == 0 {
		return f, true
	}
	return fmt.Sprintf(f, vals...), true
}

func sampleText(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		l, ok1 := sampleText(e.X)
		r, ok2 := sampleText(e.Y)
		if !ok1 && !ok2 {
			return "", false
		}
		if !ok1 {
			l = "7"
		}
		if !ok2 {
			r = "7"
		}
		return l + r, true
	case *ast.CallExpr:
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && isIdent(sel.X, "fmt") && sel.Sel.Name == "Sprintf" && len(e.Args) > 0 {
			if f, ok := sampleText(e.Args[0]); ok {
				return verb.ReplaceAllString(f, "7"), true
			}
		}
	}
	return "", false
}

// parseSources parses every Go file but the tests in dirs, for the tests that read
// which messages the code uses.
func parseSources(t *testing.T, fset *token.FileSet, dirs ...string) []*ast.File {
	t.Helper()
	var out []*ast.File
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, file)
		}
	}
	return out
}
