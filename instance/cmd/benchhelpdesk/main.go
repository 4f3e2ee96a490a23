// Command benchhelpdesk measures the helpdesk's reads on both databases: knowledge-base
// search over 10,000 articles and the filtered ticket list over 100,000 tickets, p50 and
// p99 of the service calls (the query, the mapping and, for search, the highlighting).
// Figures go to JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/benchseed"
	"github.com/sproudstack/sproudchat/instance/internal/kb"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/platform/clock"
)

type dist struct {
	Runs  int     `json:"runs"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func summarize(v []float64) dist {
	sort.Float64s(v)
	p := func(q float64) float64 { return float64(int64(v[int(float64(len(v)-1)*q)]*1000+0.5)) / 1000 }
	return dist{Runs: len(v), P50Ms: p(0.5), P99Ms: p(0.99), MaxMs: p(1)}
}

type dbResult struct {
	Dialect     string          `json:"dialect"`
	SeedSeconds float64         `json:"seed_seconds"`
	KBSearch    map[string]dist `json:"kb_search_10k_articles"`
	TicketList  map[string]dist `json:"ticket_list_100k_tickets"`
}

func main() {
	out := flag.String("out", "bench/results/tickets-kb.json", "where to write the figures")
	nTickets := flag.Int("tickets", 100_000, "tickets to seed")
	nArticles := flag.Int("articles", 10_000, "articles to seed")
	runs := flag.Int("runs", 300, "calls per measured query")
	cpuProfile := flag.String("cpuprofile", "", "diagnosis: write a CPU profile of the measured calls here")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchhelpdesk:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	res := map[string]any{"benchmark": "tickets-kb", "when": time.Now().UTC(), "machine": map[string]string{"cpus": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version()},
		"target": "p99 <= 20 ms for each query"}
	var dbs []dbResult
	dir, _ := os.MkdirTemp("", "benchhelpdesk-")
	defer os.RemoveAll(dir)
	targets := map[store.Dialect]string{store.SQLite: ""}
	if u := os.Getenv("SPROUDCHAT_TEST_POSTGRES_URL"); u != "" {
		targets[store.Postgres] = u
	} else {
		fmt.Fprintln(os.Stderr, "benchhelpdesk: SPROUDCHAT_TEST_POSTGRES_URL not set; measuring SQLite only")
	}
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		url, ok := targets[d]
		if !ok {
			continue
		}
		r, err := measure(d, url, filepath.Join(dir, "bench.db"), *nTickets, *nArticles, *runs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchhelpdesk:", d, err)
			os.Exit(1)
		}
		dbs = append(dbs, r)
	}
	res["databases"] = dbs
	b, _ := json.MarshalIndent(res, "", "  ")
	os.MkdirAll(filepath.Dir(*out), 0o755)
	os.Stdout.Write(append(b, '\n'))
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func measure(d store.Dialect, url, path string, nTickets, nArticles, runs int) (dbResult, error) {
	ctx := context.Background()
	r := dbResult{Dialect: string(d), KBSearch: map[string]dist{}, TicketList: map[string]dist{}}
	if d == store.Postgres {
		admin, err := store.Open(ctx, url, "")
		if err != nil {
			return r, err
		}
		name := fmt.Sprintf("benchhelpdesk_%d", time.Now().UnixNano())
		admin.Gorm().Exec("CREATE DATABASE " + name)
		defer func() { admin.Gorm().Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); admin.Close() }()
		url = url[:strings.LastIndex(url, "/")+1] + name + url[strings.Index(url+"?", "?"):]
		url = strings.TrimSuffix(url, "?")
	}
	db, err := store.Open(ctx, url, path)
	if err != nil {
		return r, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return r, err
	}
	t0 := time.Now()
	if err := benchseed.Helpdesk(ctx, db, nTickets, nArticles); err != nil {
		return r, err
	}
	r.SeedSeconds = float64(int(time.Since(t0).Seconds()*10)) / 10
	clk := clock.Real{}
	ts := tickets.NewService(store.NewTickets(db), clk)
	ks := kb.NewService(store.NewKB(db), clk)
	time1 := func(fn func() error) ([]float64, error) {
		var v []float64
		for i := 0; i < runs; i++ {
			s := time.Now()
			if err := fn(); err != nil {
				return nil, err
			}
			v = append(v, float64(time.Since(s).Microseconds())/1000)
		}
		return v, nil
	}
	queries := map[string]func() error{
		// Every query matches: the corpus is made of these words (see seed), so each term
		// hits a large share of the articles: a worst case for ranking.
		"kb_de_rueckerstattung_zahlung": func() error { _, err := ks.Search(ctx, "Rückerstattungen Zahlung", true, 10); return err },
		"kb_de_passwoerter":             func() error { _, err := ks.Search(ctx, "Passwörter", true, 10); return err },
		"kb_en_refund_payment":          func() error { _, err := ks.Search(ctx, "refunds payment", true, 10); return err },
		"kb_en_rare_title_word":         func() error { _, err := ks.Search(ctx, "coupon 4242", true, 10); return err },
	}
	for name, q := range queries {
		if hits, _ := ks.Search(ctx, map[string]string{"kb_de_rueckerstattung_zahlung": "Rückerstattungen Zahlung", "kb_de_passwoerter": "Passwörter",
			"kb_en_refund_payment": "refunds payment", "kb_en_rare_title_word": "coupon 4242"}[name], true, 10); len(hits) == 0 {
			return r, fmt.Errorf("%s matches nothing: the figure would be meaningless", name)
		}
		v, err := time1(q)
		if err != nil {
			return r, fmt.Errorf("%s: %w", name, err)
		}
		r.KBSearch[name] = summarize(v)
	}
	lists := map[string]tickets.Filter{
		"default_newest":          {Limit: 50},
		"status_open":             {Status: tickets.Open, Limit: 50},
		"assignee_and_status":     {AssigneeID: 3, Status: tickets.Pending, Limit: 50},
		"tag":                     {Tag: "billing", Limit: 50},
		"requester":               {Requester: "customer42@example.org", Limit: 50},
		"priority_sorted":         {Sort: "priority", Limit: 50},
		"text_in_subject_or_body": {Text: "Rechnung 4711", Limit: 50},
	}
	for name, f := range lists {
		f := f
		v, err := time1(func() error { _, _, err := ts.List(ctx, f); return err })
		if err != nil {
			return r, fmt.Errorf("%s: %w", name, err)
		}
		r.TicketList[name] = summarize(v)
	}
	return r, nil
}
