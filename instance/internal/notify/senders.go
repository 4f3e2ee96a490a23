package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/sproudstack/sproudchat/instance"
)

// checkTargetURL accepts https URLs, and plain http only when loopback is allowed
// (tests). Where the host points is checked again when connecting, after DNS.
func checkTargetURL(p instance.Fields, field, raw string, loopback bool) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		p.Add(field, "required", "is required")
	case err != nil || u.Host == "" || u.User != nil || u.Fragment != "":
		p.Add(field, "hook_url", "must be a URL such as https://hooks.example.com/…")
	case u.Scheme != "https" && !(u.Scheme == "http" && loopback && isLoopbackHost(u.Hostname())):
		p.Add(field, "https", "must use https")
	case len(raw) > 2000:
		p.Add(field, "too_long", "is longer than %d characters", 2000)
	}
}

// isLoopbackHost tells whether host names this machine without asking DNS.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// blockedPrefixes are networks no notification goes to, beyond what netip's
// predicates name: shared address space, benchmarking, IETF protocol assignments,
// reserved, and NAT64 (which can reach private IPv4).
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"), netip.MustParsePrefix("2002::/16"),
}

// allowedAddr tells whether a resolved address may be connected to.
func allowedAddr(ip netip.Addr, loopback bool) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return loopback
	}
	if !ip.IsValid() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// guardedClient is the HTTP client for targets: it checks every address it connects
// to after DNS resolution (so a name pointing inside cannot be used), ignores proxies
// from the environment, follows no redirect and gives up after 15 seconds.
func guardedClient(loopback bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !allowedAddr(ap.Addr(), loopback) {
			return errBlocked
		}
		return nil
	}}
	tr := &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	return &http.Client{Transport: tr, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// sendResult is what one attempt came to.
type sendResult struct {
	status     int
	retryAfter time.Duration // the service asked to wait this long
	permanent  bool          // retrying cannot help (the target refuses the request)
	err        error
}

// send delivers one event to one target.
func (h *Hooks) send(ctx context.Context, t Target, d Delivery, ev Event) sendResult {
	switch t.Kind {
	case KindSlack:
		return h.post(ctx, t.Config.URL, slackPayload(ev, h.translator(ctx, nil).T("event.open")), nil, func(status int, body []byte) bool {
			return status == 200 && strings.TrimSpace(string(body)) == "ok"
		})
	case KindDiscord:
		return h.post(ctx, t.Config.URL, discordPayload(ev), nil, nil)
	case KindBark:
		return h.post(ctx, t.Config.Server+"/push", barkPayload(t.Config.DeviceKey, ev), nil, nil)
	case KindWebhook:
		body := webhookPayload(d, ev)
		ts := strconv.FormatInt(h.o.Clock.Now().Unix(), 10)
		hdr := map[string]string{"Sproud-Signature": "t=" + ts + ",v1=" + Sign(t.Config.Secret, ts, body),
			"Sproud-Delivery": d.DeliveryID, "Sproud-Event": ev.Type}
		return h.postBytes(ctx, t.Config.URL, body, hdr, nil)
	case KindEmail:
		return h.mail(ctx, t, ev)
	}
	return sendResult{permanent: true, err: fmt.Errorf("unknown target kind %q", t.Kind)}
}

// Sign is the webhook signature: hex HMAC-SHA256 of "<t>.<body>" with the secret.
func Sign(secret, t string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(t))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func (h *Hooks) post(ctx context.Context, target string, payload any, hdr map[string]string, ok func(int, []byte) bool) sendResult {
	body, err := json.Marshal(payload)
	if err != nil {
		return sendResult{permanent: true, err: err}
	}
	return h.postBytes(ctx, target, body, hdr, ok)
}

// postBytes POSTs JSON. Success is a 2xx (or what ok says); 429 and 5xx are retried,
// honouring Retry-After; other 4xx are final.
func (h *Hooks) postBytes(ctx context.Context, target string, body []byte, hdr map[string]string, ok func(int, []byte) bool) sendResult {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && h.o.AllowLoopback && isLoopbackHost(u.Hostname()))) {
		return sendResult{permanent: true, err: errors.New("the target URL must use https")}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return sendResult{permanent: true, err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sproudchat-notifications/1")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := h.client.Do(req)
	if err != nil {
		// The URL is a secret: the error names the host only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("post to %s: %w", u.Host, ue.Err)
		}
		return sendResult{err: err, permanent: errors.Is(err, errBlocked)}
	}
	defer res.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	r := sendResult{status: res.StatusCode}
	good := res.StatusCode/100 == 2
	if ok != nil {
		good = ok(res.StatusCode, reply)
	}
	if good {
		return r
	}
	r.err = fmt.Errorf("%s answered %d %s", u.Host, res.StatusCode, strings.TrimSpace(string(reply[:min(len(reply), 200)])))
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		r.retryAfter = retryAfter(res.Header, reply)
	case res.StatusCode >= 500 || res.StatusCode == http.StatusRequestTimeout:
		r.retryAfter = retryAfter(res.Header, nil)
	case res.StatusCode >= 300:
		r.permanent = true // refused, or a redirect: neither gets better by retrying
	}
	return r
}

// retryAfter reads how long a service asks to wait: the Retry-After header (seconds
// or an HTTP date), Discord's X-RateLimit-Reset-After, or Discord's retry_after in
// the body, whichever is longest.
func retryAfter(hdr http.Header, body []byte) time.Duration {
	var wait time.Duration
	secs := func(s string) {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && f > 0 && !math.IsInf(f, 0) {
			wait = max(wait, time.Duration(math.Ceil(f*1000))*time.Millisecond)
		}
	}
	if v := hdr.Get("Retry-After"); v != "" {
		if at, err := http.ParseTime(v); err == nil {
			wait = max(wait, time.Until(at))
		} else {
			secs(v)
		}
	}
	secs(hdr.Get("X-RateLimit-Reset-After"))
	var b struct {
		RetryAfter float64 `json:"retry_after"`
	}
	if json.Unmarshal(body, &b) == nil && b.RetryAfter > 0 {
		secs(strconv.FormatFloat(b.RetryAfter, 'f', -1, 64))
	}
	return wait
}

// truncate cuts s to n characters, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning to, so a
// visitor's text cannot make links or mentions.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackPayload follows Slack's incoming webhooks: text is the fallback for
// notifications, blocks what the channel shows.
func slackPayload(ev Event, open string) map[string]any {
	title, text := slackEscape(ev.Title), slackEscape(truncate(ev.Text, 2900))
	blocks := []any{
		map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*" + title + "*\n" + text}},
	}
	if ev.URL != "" {
		blocks = append(blocks, map[string]any{"type": "context", "elements": []any{
			map[string]any{"type": "mrkdwn", "text": "<" + ev.URL + "|" + open + ">"}}})
	}
	return map[string]any{"text": truncate(title+": "+text, 3000), "blocks": blocks}
}

// discordPayload follows Discord's execute-webhook: content at most 2,000 characters,
// an embed's texts at most 6,000 together (title 256, description 4,096), and no
// mentions parsed, so a visitor's "@everyone" pings nobody.
func discordPayload(ev Event) map[string]any {
	title := truncate(ev.Title, 256)
	desc := truncate(ev.Text, min(4096, 6000-utf8.RuneCountInString(title)))
	embed := map[string]any{"title": title, "description": desc, "timestamp": ev.At.UTC().Format(time.RFC3339)}
	if ev.URL != "" {
		embed["url"] = ev.URL
	}
	return map[string]any{"content": truncate(ev.Title, 2000), "embeds": []any{embed}, "allowed_mentions": map[string]any{"parse": []string{}}}
}

// barkPayload follows Bark's POST /push with a JSON body.
func barkPayload(deviceKey string, ev Event) map[string]any {
	p := map[string]any{"device_key": deviceKey, "title": truncate(ev.Title, 200), "body": truncate(ev.Text, 1000), "group": "sproudchat", "level": "active"}
	if ev.URL != "" {
		p["url"] = ev.URL
	}
	return p
}

// webhookPayload is the generic webhook's body: the event with its delivery id.
func webhookPayload(d Delivery, ev Event) []byte {
	b, _ := json.Marshal(map[string]any{"id": d.DeliveryID, "type": ev.Type, "created_at": ev.At.UTC().Format(time.RFC3339), "title": ev.Title,
		"text": ev.Text, "url": ev.URL, "data": ev.Data})
	return b
}

// mail queues the event as e-mail to the chosen users who are still active.
func (h *Hooks) mail(ctx context.Context, t Target, ev Event) sendResult {
	if h.mailer == nil || h.users == nil {
		return sendResult{permanent: true, err: errors.New("e-mail is not configured")}
	}
	users, err := h.users.ListUsers(ctx)
	if err != nil {
		return sendResult{err: err}
	}
	for _, u := range users {
		for _, id := range t.Config.UserIDs {
			if u.ID == id && u.Active {
				body := ev.Text + "\n"
				if ev.URL != "" {
					body += "\n" + ev.URL + "\n"
				}
				if _, err := h.mailer.Enqueue(ctx, Mail{To: u.Email, Subject: subjectLine(ev.Title), Body: body, Kind: "notification"}); err != nil {
					return sendResult{err: err}
				}
			}
		}
	}
	return sendResult{}
}
