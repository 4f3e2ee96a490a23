package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/platform/clock"
)

func ticketEnv(t *testing.T, db *store.DB) (*tickets.Service, accounts.Principal, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	svc, _ := newService(t, db, clk)
	agent := accounts.Principal{User: mustSetup(t, svc)}
	return tickets.NewService(store.NewTickets(db), clk), agent, clk
}

func ptr[T any](v T) *T { return &v }

// ticketShape is what the ticket tests check of a ticket.
type ticketShape struct {
	Status                              tickets.Status
	RequesterEmail                      string
	Tags                                []string
	FirstResponseAt, SolvedAt, ClosedAt *time.Time
	MergedIntoID                        *int64
}

func wantTicket(t *testing.T, when string, want ticketShape, tk tickets.Ticket) {
	t.Helper()
	got := ticketShape{Status: tk.Status, RequesterEmail: tk.RequesterEmail, Tags: tk.Tags, FirstResponseAt: tk.FirstResponseAt,
		SolvedAt: tk.SolvedAt, ClosedAt: tk.ClosedAt, MergedIntoID: tk.MergedIntoID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s: ticket (-want +got):\n%s", when, diff)
	}
}

func TestTicketLifecycleAndHistory(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, agent, clk := ticketEnv(t, db)
		tk, err := svc.Create(ctx, nil, tickets.NewTicket{Subject: "Refund please", RequesterName: "Rita", RequesterEmail: "Rita@Example.org",
			Body: "I was charged twice.", Tags: []string{"Billing", "refund", "billing"}, Source: "contact"})
		if err != nil {
			t.Fatal(err)
		}
		created := ticketShape{Status: tickets.New, RequesterEmail: "rita@example.org", Tags: []string{"billing", "refund"}}
		wantTicket(t, "created", created, tk)
		clk.Advance(10 * time.Minute)
		if _, _, err := svc.AddMessage(ctx, agent, tk.ID, tickets.Note, "checking the payment provider"); err != nil {
			t.Fatal(err)
		}
		tk, _ = svc.Get(ctx, tk.ID)
		wantTicket(t, "after an internal note (it is no response)", created, tk)
		clk.Advance(5 * time.Minute)
		_, tk, err = svc.AddMessage(ctx, agent, tk.ID, tickets.Reply, "We refunded you.")
		if err != nil {
			t.Fatalf("the first reply: %v", err)
		}
		replied := clk.Now()
		wantTicket(t, "after the first reply", ticketShape{Status: tickets.Open, RequesterEmail: "rita@example.org", Tags: []string{"billing", "refund"},
			FirstResponseAt: &replied}, tk)
		for _, st := range []tickets.Status{tickets.Pending, tickets.Solved, tickets.Closed} {
			clk.Advance(time.Hour)
			if tk, err = svc.Update(ctx, agent, tk.ID, tickets.Update{Status: ptr(st)}); err != nil {
				t.Fatal(err)
			}
		}
		solved, closed := replied.Add(2*time.Hour), replied.Add(3*time.Hour)
		wantTicket(t, "after solved and closed", ticketShape{Status: tickets.Closed, RequesterEmail: "rita@example.org", Tags: []string{"billing", "refund"},
			FirstResponseAt: &replied, SolvedAt: &solved, ClosedAt: &closed}, tk)
		visible, _ := svc.Messages(ctx, tk.ID, false)
		all, _ := svc.Messages(ctx, tk.ID, true)
		if len(visible) != 2 || len(all) != 3 {
			t.Fatalf("messages: %d visible, %d in all", len(visible), len(all))
		}
		h, _ := svc.History(ctx, tk.ID)
		var got []string
		for _, c := range h {
			got = append(got, c.Field+":"+c.From+"→"+c.To)
		}
		want := "[created:→new status:new→open status:open→pending status:pending→solved status:solved→closed]"
		if fmt.Sprint(got) != want {
			t.Fatalf("history %v, want %s", got, want)
		}
		if h[1].ActorName != "Ada Admin" {
			t.Fatalf("history actor %q", h[1].ActorName)
		}
		if _, err := svc.Update(ctx, agent, tk.ID, tickets.Update{Status: ptr(tickets.Status("lost"))}); !errors.Is(err, instance.ErrInvalid) {
			t.Fatalf("bad status: %v", err)
		}
	})
}

func TestMergeKeepsBothHistories(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, agent, _ := ticketEnv(t, db)
		a, _ := svc.Create(ctx, nil, tickets.NewTicket{Subject: "Login broken", RequesterEmail: "x@example.org", Body: "first", Tags: []string{"login"}})
		b, _ := svc.Create(ctx, nil, tickets.NewTicket{Subject: "Cannot log in", RequesterEmail: "x@example.org", Body: "second", Tags: []string{"urgent"}})
		svc.AddMessage(ctx, agent, a.ID, tickets.Reply, "looking into it")
		into, err := svc.Merge(ctx, agent, a.ID, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		type merged struct {
			Tags          []string
			FirstResponse bool
		}
		if diff := cmp.Diff(merged{Tags: []string{"login", "urgent"}, FirstResponse: true}, merged{into.Tags, into.FirstResponseAt != nil}); diff != "" {
			t.Fatalf("merged into (-want +got):\n%s", diff)
		}
		ms, _ := svc.Messages(ctx, b.ID, true)
		if len(ms) != 3 {
			t.Fatalf("%d messages after merge, want 3", len(ms))
		}
		from, _ := svc.Get(ctx, a.ID)
		type closedInto struct {
			Status       tickets.Status
			MergedIntoID *int64
		}
		if diff := cmp.Diff(closedInto{tickets.Closed, &b.ID}, closedInto{from.Status, from.MergedIntoID}); diff != "" {
			t.Fatalf("the merged ticket (-want +got):\n%s", diff)
		}
		ha, _ := svc.History(ctx, a.ID)
		hb, _ := svc.History(ctx, b.ID)
		if len(ha) < 3 || len(hb) == 0 {
			t.Fatalf("histories: %d changes of the merged ticket (want 3 or more), %d of the other", len(ha), len(hb))
		}
		if diff := cmp.Diff([]string{"merged_into", "merged_from"}, []string{ha[len(ha)-2].Field, hb[len(hb)-1].Field}); diff != "" {
			t.Fatalf("the merge in the histories (-want +got):\n%s", diff)
		}
		if _, err := svc.Merge(ctx, agent, a.ID, b.ID); !errors.Is(err, instance.ErrConflict) {
			t.Fatalf("merging again: %v", err)
		}
		if _, _, err := svc.AddMessage(ctx, agent, a.ID, tickets.Reply, "x"); !errors.Is(err, instance.ErrConflict) {
			t.Fatalf("replying to a merged ticket: %v", err)
		}
	})
}

func TestListFiltersSortsAndPages(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, agent, clk := ticketEnv(t, db)
		prios := []tickets.Priority{tickets.Low, tickets.Normal, tickets.High, tickets.Urgent}
		for i := 0; i < 23; i++ {
			clk.Advance(time.Minute)
			tk, err := svc.Create(ctx, nil, tickets.NewTicket{Subject: fmt.Sprintf("Question %02d", i), RequesterEmail: fmt.Sprintf("r%d@example.org", i%3),
				Body: fmt.Sprintf("body %d about 100%% of the invoice", i), Priority: prios[i%4], Tags: []string{fmt.Sprintf("t%d", i%2)}})
			if err != nil {
				t.Fatal(err)
			}
			if i%5 == 0 {
				svc.Update(ctx, agent, tk.ID, tickets.Update{AssigneeID: ptr(ptr(agent.User.ID)), Status: ptr(tickets.Pending)})
			}
		}
		count := func(f tickets.Filter) int {
			items, _, err := svc.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return len(items)
		}
		checks := map[string][2]int{
			"status":     {count(tickets.Filter{Status: tickets.Pending, Limit: 100}), 5},
			"assignee":   {count(tickets.Filter{AssigneeID: agent.User.ID, Limit: 100}), 5},
			"unassigned": {count(tickets.Filter{AssigneeID: -1, Limit: 100}), 18},
			"tag":        {count(tickets.Filter{Tag: "t1", Limit: 100}), 11},
			"requester":  {count(tickets.Filter{Requester: "R2@example.org", Limit: 100}), 7},
			"text":       {count(tickets.Filter{Text: "QUESTION 1", Limit: 100}), 10},
			"body text":  {count(tickets.Filter{Text: "body 22", Limit: 100}), 1},
			"percent":    {count(tickets.Filter{Text: "100%", Limit: 100}), 23},
			"literal %":  {count(tickets.Filter{Text: "%x%", Limit: 100}), 0},
		}
		for name, c := range checks {
			if c[0] != c[1] {
				t.Errorf("filter %s: %d tickets, want %d", name, c[0], c[1])
			}
		}
		for _, sort := range []string{"updated", "created", "priority"} {
			seen := map[int64]bool{}
			var order []tickets.Ticket
			cursor := ""
			for page := 0; page < 10; page++ {
				items, next, err := svc.List(ctx, tickets.Filter{Sort: sort, After: cursor, Limit: 7})
				if err != nil {
					t.Fatalf("%s page %d: %v", sort, page, err)
				}
				for _, it := range items {
					if seen[it.ID] {
						t.Fatalf("%s: ticket %d on two pages", sort, it.ID)
					}
					seen[it.ID] = true
					order = append(order, it)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if len(seen) != 23 {
				t.Fatalf("%s: paged through %d tickets, want 23", sort, len(seen))
			}
			if sort == "priority" && (order[0].Priority != tickets.Urgent || order[22].Priority != tickets.Low) {
				t.Errorf("priority order starts %s, ends %s", order[0].Priority, order[22].Priority)
			}
			if sort == "created" && order[0].CreatedAt.Before(order[22].CreatedAt) {
				t.Error("created order is not newest first")
			}
		}
		if _, _, err := svc.List(ctx, tickets.Filter{After: "garbage"}); !errors.Is(err, instance.ErrInvalid) {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}

// TestTicketTextSearch covers the trigram paths: edits and merges stay findable, case
// and umlauts fold, short and wildcard-bearing queries still work.
func TestTicketTextSearch(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, agent, _ := ticketEnv(t, db)
		a, _ := svc.Create(ctx, nil, tickets.NewTicket{Subject: "Rückerstattung für Auftrag 4711", RequesterEmail: "a@example.org", Body: "Bitte prüfen"})
		b, _ := svc.Create(ctx, nil, tickets.NewTicket{Subject: "Lieferung", RequesterEmail: "b@example.org", Body: "Paket kam mit 50% Rabatt an"})
		find := func(q string) []int64 {
			items, _, err := svc.List(ctx, tickets.Filter{Text: q, Limit: 50})
			if err != nil {
				t.Fatalf("%q: %v", q, err)
			}
			var ids []int64
			for _, it := range items {
				ids = append(ids, it.ID)
			}
			return ids
		}
		expect := func(q string, want ...int64) {
			t.Helper()
			if got := find(q); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%q found %v, want %v", q, got, want)
			}
		}
		expect("RÜCKERSTATTUNG", a.ID)
		expect("auftrag 47", a.ID)
		expect("50% rabatt", b.ID)
		expect("ab", b.ID) // "Rabatt": under three characters, scanned
		expect("nothing like this")
		newSubject := "Gutschrift statt Erstattung"
		if _, err := svc.Update(ctx, agent, a.ID, tickets.Update{Subject: &newSubject}); err != nil {
			t.Fatal(err)
		}
		expect("gutschrift", a.ID)
		expect("rückerstattung")
		if _, _, err := svc.AddMessage(ctx, agent, b.ID, tickets.Reply, "Wir senden einen Ersatzartikel"); err != nil {
			t.Fatal(err)
		}
		expect("ersatzartikel", b.ID)
		if _, err := svc.Merge(ctx, agent, b.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		expect("ersatzartikel", a.ID)
	})
}
