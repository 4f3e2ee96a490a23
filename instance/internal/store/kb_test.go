package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/kb"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/clock"
)

var articles = []kb.Input{
	{Title: "Rückerstattungen beantragen", Language: "de", Publish: true, Body: "So beantragen Sie eine **Rückerstattung**: Öffnen Sie die Bestellung und wählen Sie *Erstattung anfordern*. Erstattungen dauern fünf Tage."},
	{Title: "Versandkosten", Language: "de", Publish: true, Body: "Der Versand ist ab 50 Euro kostenlos. Bei einer Rückerstattung werden Versandkosten nicht erstattet."},
	{Title: "Passwort zurücksetzen", Language: "de", Publish: true, Body: "Haben Sie Ihr Passwort vergessen? Klicken Sie auf *Passwort vergessen*. Sichere Passwörter haben mindestens zwölf Zeichen."},
	{Title: "Konto löschen", Language: "de", Publish: true, Body: "Sie können Ihr Konto in den Einstellungen löschen. Vorher sollten Sie Ihre Passwörter für andere Dienste ändern."},
	{Title: "How to request a refund", Language: "en", Publish: true, Body: "Refunds are issued to the original payment method within five days of your request."},
	{Title: "Shipping costs", Language: "en", Publish: true, Body: "Shipping is free above 50 euros. Shipping is not refunded."},
	{Title: "Resetting your password", Language: "en", Publish: true, Body: "Forgot your password? Use the reset link. Strong passwords have twelve characters."},
	{Title: "Rückerstattung intern (Entwurf)", Language: "de", Publish: false, Body: "Interner Entwurf zur Rückerstattung."},
}

func TestKBSearchRanksTheRightArticleFirst(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := kb.NewService(store.NewKB(db), clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)))
		author := accounts.Principal{User: accounts.User{ID: 1, Name: "Ada"}}
		for _, a := range articles {
			if _, err := svc.Save(ctx, author, 0, a); err != nil {
				t.Fatalf("save %q: %v", a.Title, err)
			}
		}
		cases := []struct{ query, first string }{
			{"Rückerstattung", "Rückerstattungen beantragen"},
			{"rückerstattungen", "Rückerstattungen beantragen"},
			{"Passwörter", "Passwort zurücksetzen"},
			{"passwort vergessen", "Passwort zurücksetzen"},
			{"refunds", "How to request a refund"},
			{"reset passwords", "Resetting your password"},
			{"shipping", "Shipping costs"},
		}
		for _, c := range cases {
			t.Run(c.query, func(t *testing.T) {
				hits, err := svc.Search(ctx, c.query, true, 10)
				if err != nil {
					t.Fatalf("%q: %v", c.query, err)
				}
				if len(hits) == 0 || hits[0].Title != c.first {
					var got []string
					for _, h := range hits {
						got = append(got, h.Title)
					}
					t.Fatalf("%q ranked %v; want %q first", c.query, got, c.first)
				}
				if !strings.Contains(string(hits[0].TitleHTML)+string(hits[0].SnippetHTML), "<mark>") {
					t.Errorf("%q: nothing highlighted in %q / %q", c.query, hits[0].TitleHTML, hits[0].SnippetHTML)
				}
				for _, h := range hits {
					if h.Status != kb.Published {
						t.Errorf("%q found the draft %q", c.query, h.Title)
					}
				}
			})
		}
		if hits, _ := svc.Search(ctx, `"); DROP TABLE kb_articles; --`, true, 10); len(hits) != 0 {
			t.Errorf("a hostile query found %d articles", len(hits))
		}
		if hits, _ := svc.Search(ctx, "Rückerstattung intern", false, 10); len(hits) == 0 || hits[0].Status != kb.Draft {
			t.Error("agents do not find drafts")
		}
		if _, err := svc.Save(ctx, author, 0, kb.Input{Title: "Passwort zurücksetzen", Body: "dup", Language: "de"}); !errors.Is(err, instance.ErrConflict) {
			t.Fatalf("a second article with the same slug: %v", err)
		}
		// Editing re-indexes: the old words stop matching, the new ones match.
		first, _ := svc.Search(ctx, "Versandkosten", true, 1)
		if _, err := svc.Save(ctx, author, first[0].ID, kb.Input{Title: "Lieferzeiten", Body: "Wir liefern in zwei Tagen.", Language: "de", Publish: true}); err != nil {
			t.Fatal(err)
		}
		hits, _ := svc.Search(ctx, "Lieferzeit", true, 10)
		var titles []string
		for _, h := range hits {
			titles = append(titles, h.Title)
		}
		if diff := cmp.Diff([]string{"Lieferzeiten"}, titles); diff != "" {
			t.Fatalf("after the edit: titles found (-want +got):\n%s", diff)
		}
		if hits, _ := svc.Search(ctx, "kostenlos", true, 10); len(hits) != 0 {
			t.Fatalf("the old text still matches: %d hits", len(hits))
		}
		if err := svc.Vote(ctx, "passwort-zuruecksetzen", true); err != nil {
			t.Fatal(err)
		}
		if a, _ := svc.Public(ctx, "passwort-zuruecksetzen"); a.HelpfulYes != 1 {
			t.Fatalf("helpful votes %d", a.HelpfulYes)
		}
		if _, err := svc.Public(ctx, "rueckerstattung-intern-entwurf"); !errors.Is(err, instance.ErrNotFound) {
			t.Fatalf("a draft is public: %v", err)
		}
	})
}
