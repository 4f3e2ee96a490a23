package notify

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/i18n"
)

// CoalesceWindow is how often at most a target hears of each coalesced event type.
const CoalesceWindow = time.Minute

// coalesced are the event types a visitor can cause at will: a flood of chats tells
// each target once a minute, with the count, instead of once a chat. Publish hands
// them to HookStore.CoalesceDelivery, which keeps the count in the queue.
var coalesced = []string{EventChatNew, EventChatUnanswered}

// event is what a delivery tells: its stored event, and for a coalesced type the
// count in data.count, and in the title when it stands for more than one.
func (d Delivery) event(tr i18n.Translator) Event {
	var ev Event
	json.Unmarshal([]byte(d.Payload), &ev)
	if !slices.Contains(coalesced, d.EventType) {
		return ev
	}
	n := max(d.Count, 1)
	if ev.Data == nil {
		ev.Data = map[string]any{}
	}
	ev.Data["count"] = n
	if n > 1 {
		ev.Title = tr.N("event.more", n-1, "Title", ev.Title)
	}
	return ev
}
