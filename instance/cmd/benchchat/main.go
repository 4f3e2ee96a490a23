// Command benchchat measures live chat: with 1,000 visitor WebSockets open on the real
// sproudchat binary, the latency from a visitor's send to the agent's inbox, and the
// memory 1,000 idle connections cost. Beside it, in the same run, the floor: a bare
// coder/websocket relay (this binary re-executed with -floor-server) that forwards every
// visitor message to one agent connection. Figures go to JSON.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

type frame struct {
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id,omitempty"`
	ClientID       string `json:"client_id,omitempty"`
	Body           string `json:"body,omitempty"`
	Seq            int64  `json:"seq,omitempty"`
}

type dist struct {
	Samples int     `json:"samples"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
}

func summarize(v []float64) dist {
	sort.Float64s(v)
	p := func(q float64) float64 { return float64(int64(v[int(float64(len(v)-1)*q)]*1000+0.5)) / 1000 }
	return dist{Samples: len(v), P50Ms: p(0.5), P99Ms: p(0.99), MaxMs: p(1)}
}

func main() {
	floor := flag.String("floor-server", "", "internal: run the bare relay on this address")
	bin := flag.String("binary", "bin/sproudchat", "the sproudchat binary")
	n := flag.Int("connections", 1000, "visitor connections")
	msgs := flag.Int("messages", 3, "messages per visitor")
	period := flag.Duration("period", 2*time.Second, "each visitor sends once per period")
	out := flag.String("out", "bench/results/chat.json", "where to write the figures")
	flag.Parse()
	if *floor != "" {
		serveFloor(*floor)
		return
	}
	if err := run(*bin, *n, *msgs, *period, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchchat:", err)
		os.Exit(1)
	}
}

// serveFloor relays every visitor frame to the one agent connection: the least a chat
// server over coder/websocket does.
func serveFloor(addr string) {
	var mu sync.Mutex
	var agent *websocket.Conn
	http.HandleFunc("/agent", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		agent = c
		mu.Unlock()
		<-r.Context().Done()
	})
	http.HandleFunc("/visitor", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			mu.Lock()
			a := agent
			mu.Unlock()
			if a != nil {
				a.Write(r.Context(), websocket.MessageText, b)
			}
		}
	})
	http.ListenAndServe(addr, nil)
}

func freeAddr() string {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	return l.Addr().String()
}

func rssKB(pid int) (vm, anon int) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			vm, _ = strconv.Atoi(f[1])
		}
		if len(f) >= 2 && f[0] == "RssAnon:" {
			anon, _ = strconv.Atoi(f[1])
		}
	}
	return
}

func waitUp(url string) error {
	for i := 0; i < 500; i++ {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("%s not up", url)
}

// measure opens n visitor connections (dial returns one), lets each send msgs frames
// carrying their send time, and times their arrival on the agent connection.
func measure(ctx context.Context, n, msgs int, period time.Duration, dial func(i int) (*websocket.Conn, error), agent *websocket.Conn, idle func()) ([]float64, error) {
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		c, err := dial(i)
		if err != nil {
			return nil, fmt.Errorf("visitor %d: %w", i, err)
		}
		conns[i] = c
		go func() { // drain what the server sends the visitor (acks, echoes)
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}()
	}
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	idle()
	lat := make([]float64, 0, n*msgs)
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for len(lat) < n*msgs {
			var f frame
			if err := wsjson.Read(ctx, agent, &f); err != nil {
				return
			}
			if f.Type != "message" && f.Type != "send" {
				continue
			}
			sent, err := strconv.ParseInt(strings.SplitN(f.ClientID, "-", 2)[0], 10, 64)
			if err != nil {
				continue
			}
			mu.Lock()
			lat = append(lat, float64(time.Now().UnixNano()-sent)/1e6)
			mu.Unlock()
		}
	}()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func(i int, c *websocket.Conn) {
			defer wg.Done()
			// Each visitor sends every period, starting at a random phase: n/period
			// messages a second in all.
			time.Sleep(time.Duration(rand.Int64N(int64(period))))
			for k := 0; k < msgs; k++ {
				wsjson.Write(ctx, c, frame{Type: "send", ClientID: fmt.Sprintf("%d-%d-%d", time.Now().UnixNano(), i, k), Body: "hello"})
				time.Sleep(period)
			}
		}(i, c)
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lat) < n*msgs {
		return nil, fmt.Errorf("the agent received %d of %d messages", len(lat), n*msgs)
	}
	return append([]float64(nil), lat...), nil
}

func run(bin string, n, msgs int, period time.Duration, out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res := map[string]any{"benchmark": "chat", "when": time.Now().UTC(), "connections": n, "messages_per_connection": msgs,
		"machine": map[string]string{"cpus": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version()},
		"target":  "p99 <= 2 x the bare coder/websocket relay", "offered_messages_per_second": float64(n) / period.Seconds()}

	// Floor.
	self, _ := os.Executable()
	faddr := freeAddr()
	fl := exec.Command(self, "-floor-server", faddr)
	if err := fl.Start(); err != nil {
		return err
	}
	defer fl.Process.Kill()
	if err := waitUp("http://" + faddr + "/none"); err != nil {
		return err
	}
	fagent, _, err := websocket.Dial(ctx, "ws://"+faddr+"/agent", nil)
	if err != nil {
		return err
	}
	fagent.SetReadLimit(1 << 20)
	floorLat, err := measure(ctx, n, msgs, period, func(int) (*websocket.Conn, error) {
		c, _, err := websocket.Dial(ctx, "ws://"+faddr+"/visitor", nil)
		return c, err
	}, fagent, func() {})
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	res["floor_bare_relay"] = summarize(floorLat)

	// sproudchat.
	dir, _ := os.MkdirTemp("", "benchchat-")
	defer os.RemoveAll(dir)
	addr := freeAddr()
	app := exec.Command(bin)
	app.Env = []string{"SPROUDCHAT_DATA_DIR=" + filepath.Join(dir, "data"), "SPROUDCHAT_LISTEN_ADDR=" + addr, "SPROUDCHAT_BASE_URL=http://" + addr,
		"SPROUDCHAT_SECRET_KEY=" + strings.Repeat("ef", 32), "SPROUDCHAT_SETUP_TOKEN=bench-setup-token-0123456789"}
	if d := os.Getenv("BENCH_GODEBUG"); d != "" { // diagnosis: GODEBUG for the server, its stderr to ours
		app.Env = append(app.Env, "GODEBUG="+d)
		app.Stderr = os.Stderr
	}
	if err := app.Start(); err != nil {
		return err
	}
	defer app.Process.Signal(os.Interrupt)
	base := "http://" + addr
	if err := waitUp(base + "/healthz"); err != nil {
		return err
	}
	post := func(c *http.Client, path, body string, hdr map[string]string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		r, err := c.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer r.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		return r, b.Bytes(), nil
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if _, _, err := post(hc, "/api/v1/setup", `{"token":"bench-setup-token-0123456789","name":"Bench","email":"bench@example.org","password":"bench password 1"}`, nil); err != nil {
		return err
	}
	if _, _, err := post(hc, "/api/v1/session", `{"email":"bench@example.org","password":"bench password 1"}`, nil); err != nil {
		return err
	}
	u, _ := url.Parse(base)
	hdr := http.Header{"Origin": {base}}
	for _, ck := range jar.Cookies(u) {
		hdr.Add("Cookie", ck.Name+"="+ck.Value)
	}
	agent, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/v1/chat/inbox", &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		return fmt.Errorf("agent inbox: %w", err)
	}
	agent.SetReadLimit(1 << 20)
	tokens := make([]string, n)
	visitorIP := func(i int) string { return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255) }
	for i := range tokens {
		// Each visitor from an address of its own, as the edge router would say: one
		// address may start only a few chats, and hold only a few connections.
		r, b, err := post(http.DefaultClient, "/api/v1/chat/conversations", `{"name":"v"}`, map[string]string{"X-Forwarded-For": visitorIP(i)})
		if err != nil {
			return err
		}
		if r.StatusCode != http.StatusCreated {
			return fmt.Errorf("start chat %d: %s %s", i, r.Status, b)
		}
		var s struct{ Token string }
		json.Unmarshal(b, &s)
		tokens[i] = s.Token
	}
	vmBefore, anonBefore := rssKB(app.Process.Pid)
	var idle map[string]int
	lat, err := measure(ctx, n, msgs, period, func(i int) (*websocket.Conn, error) {
		c, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/v1/chat/ws?token="+tokens[i],
			&websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {visitorIP(i)}}})
		return c, err
	}, agent, func() {
		time.Sleep(2 * time.Second)
		vm, anon := rssKB(app.Process.Pid)
		idle = map[string]int{"vm_rss_kb_before": vmBefore, "vm_rss_kb_with_connections": vm, "rss_anon_kb_before": anonBefore,
			"rss_anon_kb_with_connections": anon, "kb_per_1000_idle_connections": (anon - anonBefore) * 1000 / n}
	})
	if err != nil {
		return fmt.Errorf("sproudchat: %w", err)
	}
	res["sproudchat_visitor_to_agent"] = summarize(lat)
	res["memory"] = idle
	fd, sd := summarize(floorLat), summarize(lat)
	res["p99_over_floor_p99"] = float64(int(sd.P99Ms/fd.P99Ms*100)) / 100
	res["within_target"] = sd.P99Ms <= 2*fd.P99Ms
	b, _ := json.MarshalIndent(res, "", "  ")
	os.MkdirAll(filepath.Dir(out), 0o755)
	os.Stdout.Write(append(b, '\n'))
	return os.WriteFile(out, append(b, '\n'), 0o644)
}
