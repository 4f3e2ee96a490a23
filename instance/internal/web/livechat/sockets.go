package livechat

import (
	"errors"
	"math"
	"sync"

	"github.com/coder/websocket"
)

// A live chat connection is the largest thing an instance holds per client (about
// 75 KB: two goroutines, their buffers and a hub subscription), and a visitor needs no
// account to open one. So visitor connections are bounded three ways before the
// upgrade: per chat, per address and for the whole instance; an agent's per user.
const (
	// VisitorsPerChat is a few tabs of one visitor. A new connection beyond it
	// replaces the chat's oldest: the visitor looks at the tab they opened last, while
	// the oldest is the one most likely forgotten in the background. The replaced tab
	// says so and connects again only when it is looked at, so two tabs never take
	// turns replacing each other.
	VisitorsPerChat = 5
	// VisitorsPerAddress allows an office or a household behind one address (an
	// IPv6 /64) a few visitors with a few tabs each.
	VisitorsPerAddress = 20
	// AgentTabs is an agent's inbox tabs; the oldest gives way as for visitors.
	AgentTabs = 10
	// visitorSocketCost is what VisitorSockets reckons a connection costs, with room
	// over the measured 75 KB.
	visitorSocketCost = 100 << 10
	// unlimitedVisitorSockets bounds a process without a memory limit (a laptop, a
	// benchmark): it has no figure to size from.
	unlimitedVisitorSockets = 10_000
	// minVisitorSockets is the least any instance takes, however small its limit.
	minVisitorSockets = 50
	// RetryAfter is the Retry-After, in seconds, of a refused connection: the
	// widget's longest pause between attempts.
	RetryAfter = 15
)

// CloseReplaced is the close code of a connection that a newer one of the same chat
// (or the same agent) replaced.
const CloseReplaced websocket.StatusCode = 4409

// Admit's refusals; the web layer answers them (429 and 503, with Retry-After).
var (
	ErrAddressFull = errors.New("too many chat connections from this address; close some and try again later")
	ErrFull        = errors.New("the chat holds as many connections as it can; try again in a moment")
)

// VisitorSockets is how many visitor connections an instance holds at once under a Go
// memory limit of limit bytes (math.MaxInt64 for none): half the limit at
// visitorSocketCost each, the other half left for the rest (password hashes, requests,
// caches); at least minVisitorSockets; unlimitedVisitorSockets without a limit. A
// 128 MiB starter (limit 90% of it) takes 589, which at the measured 75 KB hold 43 MiB:
// with its two password hashes running (38 MiB) and the app's own 15 MiB it stays
// under the limit.
func VisitorSockets(limit int64) int {
	if limit <= 0 || limit == math.MaxInt64 {
		return unlimitedVisitorSockets
	}
	return max(int(limit/2/visitorSocketCost), minVisitorSockets)
}

// Counter counts live connections by owner (a chat, or an agent) and by address. It is
// asked before a connection is upgraded and told when it closes.
type Counter struct {
	perOwner int // the oldest of an owner's connections gives way to a new one beyond it
	perAddr  int // 0: no limit
	total    int // 0: no limit

	mu      sync.Mutex
	n       int
	byOwner map[int64][]*Socket // oldest first
	byAddr  map[string]int
}

// Socket is one counted connection.
type Socket struct {
	owner int64
	addr  string
	// replaced is closed when a newer connection of the owner took this one's place:
	// it is no longer counted and should close (CloseReplaced).
	Replaced chan struct{}
	counted  bool
}

// NewCounter counts at most perOwner connections per owner (the oldest gives way),
// perAddr per address and total in all; 0 is no limit for the last two.
func NewCounter(perOwner, perAddr, total int) *Counter {
	return &Counter{perOwner: perOwner, perAddr: perAddr, total: total, byOwner: map[int64][]*Socket{}, byAddr: map[string]int{}}
}

// Admit counts a new connection of owner from addr (a ratelimit.AddressKey). With the
// owner at its limit, the owner's oldest connection is uncounted and told to close, and
// the new one takes its place. Returns ErrFull or ErrAddressFull, counting
// nothing and replacing nobody, when the instance or the address has its limit.
func (s *Counter) Admit(owner int64, addr string) (*Socket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest *Socket
	if own := s.byOwner[owner]; len(own) >= s.perOwner {
		oldest = own[0]
	}
	freed, freedHere := 0, 0 // what replacing the oldest gives back
	if oldest != nil {
		freed = 1
		if oldest.addr == addr {
			freedHere = 1
		}
	}
	if s.total > 0 && s.n-freed >= s.total {
		return nil, ErrFull
	}
	if s.perAddr > 0 && s.byAddr[addr]-freedHere >= s.perAddr {
		return nil, ErrAddressFull
	}
	if oldest != nil {
		s.uncount(oldest)
		close(oldest.Replaced)
	}
	sk := &Socket{owner: owner, addr: addr, Replaced: make(chan struct{}), counted: true}
	s.byOwner[owner] = append(s.byOwner[owner], sk)
	s.byAddr[addr]++
	s.n++
	return sk, nil
}

// Release uncounts a closed connection. Releasing one twice, or one that was replaced,
// does nothing.
func (s *Counter) Release(sk *Socket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sk.counted {
		s.uncount(sk)
	}
}

// uncount removes sk from every count. Callers hold mu.
func (s *Counter) uncount(sk *Socket) {
	sk.counted = false
	own := s.byOwner[sk.owner]
	for i, o := range own {
		if o == sk {
			own = append(own[:i:i], own[i+1:]...)
			break
		}
	}
	if len(own) == 0 {
		delete(s.byOwner, sk.owner)
	} else {
		s.byOwner[sk.owner] = own
	}
	if s.byAddr[sk.addr]--; s.byAddr[sk.addr] <= 0 {
		delete(s.byAddr, sk.addr)
	}
	s.n--
}
