package lifecycle

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhook is a billing subscription. Its URL and signing secret are kept sealed: only
// the control service opens them.
type Webhook struct {
	ID           int64
	SealedURL    []byte
	SealedSecret []byte
	Events       []string
	CreatedAt    time.Time
}

// WebhookRequest asks for a new subscription.
type WebhookRequest struct {
	URL    string
	Events []string // empty: every type in EventTypes
}

// Validate checks a webhook request and fills in the default events. Returns a
// *ValidationError.
func (r *WebhookRequest) Validate() error {
	f := map[string]string{}
	if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(r.URL) > 2000 {
		f["url"] = "must be an absolute http(s) URL"
	}
	if len(r.Events) == 0 {
		r.Events = EventTypes
	}
	for _, e := range r.Events {
		if !slices.Contains(EventTypes, e) {
			f["events"] = fmt.Sprintf("%q is not one of %s", e, strings.Join(EventTypes, ", "))
		}
	}
	return invalid(f)
}

// Subscription is a webhook opened: where to post and, for its deliverer and once for
// its creator, the secret to sign with.
type Subscription struct {
	ID        int64
	URL       string
	Secret    string
	Events    []string
	CreatedAt time.Time
}

// DeliveryStatus is where a delivery is.
type DeliveryStatus string

// Delivery states.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Delivery is one event on its way to one webhook.
type Delivery struct {
	ID           int64
	WebhookID    int64
	EventID      int64
	Payload      []byte
	Status       DeliveryStatus
	Attempts     int
	NextAttempt  time.Time
	LastError    string
	ResponseCode int
	CreatedAt    time.Time
	DeliveredAt  *time.Time
}
