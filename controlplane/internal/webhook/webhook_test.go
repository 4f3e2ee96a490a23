package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sproudstack/sproudchat/controlplane/internal/control"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/store/storetest"
	"github.com/sproudstack/sproudchat/controlplane/internal/webhook"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

type received struct {
	header http.Header
	body   []byte
}

// TestDeliveriesAreSignedAndRetried sends events to a real HTTP receiver that fails the
// first time, and checks the signature byte for byte against the documented scheme.
func TestDeliveriesAreSignedAndRetried(t *testing.T) {
	var (
		mu   sync.Mutex
		got  []received
		fail = true
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, received{r.Header.Clone(), b})
		if fail {
			fail = false
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	ctx := context.Background()
	plans, _ := template.LoadDir("../../../templates")
	box, _ := secret.New(bytes.Repeat([]byte{3}, 32))
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	st := store.New(storetest.MustOpen(t, store.SQLite))
	svc := control.New(st, control.Options{Clock: clk, Specs: control.NewSpecs(st, control.SpecOptions{Box: box, Plans: plans, Version: "t", BaseDomain: "sproud.test"})})
	hooks := control.NewWebhooks(st, box, clk)
	sub, err := hooks.Create(ctx, lifecycle.WebhookRequest{URL: rcv.URL + "/billing/hooks", Events: []string{lifecycle.EventCreated}})
	if err != nil {
		t.Fatal(err)
	}
	sec := sub.Secret
	n, err := svc.NewInstance(lifecycle.CreateRequest{CustomerID: "cus_9", Slug: "hooked", Plan: "starter", AdminEmail: "a@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Create(ctx, n, "t", nil); err != nil {
		t.Fatal(err)
	}
	d := webhook.New(st, hooks, clk, nil)
	if n, err := d.Deliver(ctx); err != nil || n != 1 {
		t.Fatalf("first attempt: %d, %v", n, err)
	}
	if n, _ := d.Deliver(ctx); n != 0 {
		t.Fatal("retried before the backoff")
	}
	clk.Advance(webhook.Backoff(1))
	if n, err := d.Deliver(ctx); err != nil || n != 1 {
		t.Fatalf("second attempt: %d, %v", n, err)
	}
	ds, _ := st.ListDeliveries(ctx, 0, 10)
	if diff := cmp.Diff([]outcome{{lifecycle.DeliveryDelivered, 2, 204}}, outcomes(ds)); diff != "" {
		t.Fatalf("deliveries (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || !bytes.Equal(got[0].body, got[1].body) {
		t.Fatalf("received %d bodies, or they differ", len(got))
	}
	last := got[1]
	var p struct {
		ID       int64
		Type     string
		Instance struct {
			CustomerID string `json:"customer_id"`
			Slug       string
			State      string
		}
	}
	if err := json.Unmarshal(last.body, &p); err != nil || p.Type != lifecycle.EventCreated || p.Instance.Slug != "hooked" || p.Instance.CustomerID != "cus_9" {
		t.Fatalf("payload %s", last.body)
	}
	if p.ID == 0 || p.ID != ds[0].EventID {
		t.Fatalf("payload id %d, want the event's id %d", p.ID, ds[0].EventID)
	}
	if strings.Contains(string(last.body), "a@example.org") || strings.Contains(string(last.body), "setup") {
		t.Fatal("the payload carries the admin's e-mail or the setup link")
	}
	if last.header.Get("Sproud-Delivery") != strconv.FormatInt(ds[0].ID, 10) || last.header.Get("Sproud-Event") != lifecycle.EventCreated {
		t.Fatalf("headers %v", last.header)
	}
	ts := clk.Now().Unix()
	mac := hmac.New(sha256.New, []byte(sec))
	fmt.Fprintf(mac, "%d.%s", ts, last.body)
	want := fmt.Sprintf("t=%d,v1=%s", ts, hex.EncodeToString(mac.Sum(nil)))
	if sig := last.header.Get("Sproud-Signature"); sig != want {
		t.Fatalf("signature %q, want %q", sig, want)
	}
}

func TestDeliveryGivesUpAfterTheLimit(t *testing.T) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer rcv.Close()
	ctx := context.Background()
	box, _ := secret.New(bytes.Repeat([]byte{3}, 32))
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	st := store.New(storetest.MustOpen(t, store.SQLite))
	hooks := control.NewWebhooks(st, box, clk)
	if _, err := hooks.Create(ctx, lifecycle.WebhookRequest{URL: rcv.URL}); err != nil {
		t.Fatal(err)
	}
	st.CreateInstance(ctx, lifecycle.Instance{ID: "in1", CustomerID: "c", Slug: "x-y-z", Plan: "starter", State: lifecycle.Provisioning,
		Desired: lifecycle.WantActive, NextAttempt: clk.Now(), CreatedAt: clk.Now(), UpdatedAt: clk.Now()}, nil,
		lifecycle.Event{InstanceID: "in1", Type: lifecycle.EventCreated, At: clk.Now(), Payload: []byte(`{"type":"instance.created"}`)}, nil)
	d := webhook.New(st, hooks, clk, nil)
	for i := 0; i < webhook.MaxAttempts; i++ {
		d.Deliver(ctx)
		clk.Advance(time.Hour)
	}
	ds, _ := st.ListDeliveries(ctx, 0, 10)
	if diff := cmp.Diff([]outcome{{lifecycle.DeliveryFailed, webhook.MaxAttempts, 500}}, outcomes(ds)); diff != "" {
		t.Fatalf("deliveries (-want +got):\n%s", diff)
	}
	if strings.Contains(ds[0].LastError, rcv.URL) {
		t.Fatal("the secret URL is in the error")
	}
}

// TestShutdownHandsTheDeliveryBack: a delivery cut short by the end of the deliverer's
// context is not the subscriber's failure: it stays pending, its attempt uncounted, due
// at once for the next start.
func TestShutdownHandsTheDeliveryBack(t *testing.T) {
	arrived := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		close(arrived)
		<-r.Context().Done()
	}))
	defer rcv.Close()
	box, _ := secret.New(bytes.Repeat([]byte{3}, 32))
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	st := store.New(storetest.MustOpen(t, store.SQLite))
	hooks := control.NewWebhooks(st, box, clk)
	if _, err := hooks.Create(context.Background(), lifecycle.WebhookRequest{URL: rcv.URL}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateInstance(context.Background(), lifecycle.Instance{ID: "in1", CustomerID: "c", Slug: "x-y-z", Plan: "starter",
		State: lifecycle.Provisioning, Desired: lifecycle.WantActive, NextAttempt: clk.Now(), CreatedAt: clk.Now(), UpdatedAt: clk.Now()}, nil,
		lifecycle.Event{InstanceID: "in1", Type: lifecycle.EventCreated, At: clk.Now(), Payload: []byte(`{"type":"instance.created"}`)}, nil); err != nil {
		t.Fatal(err)
	}
	d := webhook.New(st, hooks, clk, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	<-arrived
	clk.Advance(5 * time.Second) // within the claim's hold of a minute
	cancel()
	<-done
	ds, err := st.ListDeliveries(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []lifecycle.Delivery{{Status: lifecycle.DeliveryPending, Attempts: 0, NextAttempt: clk.Now()}}
	got := []lifecycle.Delivery{}
	for _, x := range ds {
		got = append(got, lifecycle.Delivery{Status: x.Status, Attempts: x.Attempts, NextAttempt: x.NextAttempt, LastError: x.LastError})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("delivery after shutdown (-want +got):\n%s", diff)
	}
}

// outcome is what the tests check of a delivery.
type outcome struct {
	Status       lifecycle.DeliveryStatus
	Attempts     int
	ResponseCode int
}

func outcomes(ds []lifecycle.Delivery) []outcome {
	var out []outcome
	for _, d := range ds {
		out = append(out, outcome{d.Status, d.Attempts, d.ResponseCode})
	}
	return out
}
