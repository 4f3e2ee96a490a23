package chat

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestHubCloseTellsEverySubscriber: Close closes Closing for the subscribers there and
// for any that come later, and a second Close does nothing.
func TestHubCloseTellsEverySubscriber(t *testing.T) {
	h := NewHub()
	visitor, agent := h.SubscribeConversation(7, 1), h.SubscribeAgent(1, 1)
	for _, s := range []*Subscriber{visitor, agent} {
		select {
		case <-s.Closing:
			t.Fatal("Closing closed before Close")
		default:
		}
	}
	h.Close()
	h.Close()
	for name, s := range map[string]*Subscriber{"visitor": visitor, "agent": agent, "later": h.SubscribeConversation(8, 1)} {
		t.Run(name, func(t *testing.T) {
			select {
			case <-s.Closing:
			default:
				t.Error("Closing still open after Close")
			}
		})
	}
}
