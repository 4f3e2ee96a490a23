package edge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/sproudstack/sproudchat/provisioning"
)

// InstanceHeader is where an instance's /healthz answers its id
// (SPROUDCHAT_INSTANCE_ID): the instance contract, also named in the instance's web
// package.
const InstanceHeader = "Sproudchat-Instance"

// maxHealthBody bounds what the edge reads of a /healthz answer.
const maxHealthBody = 64 << 10

// errNotInstance: whatever answers at the address is not the instance.
var errNotInstance = errors.New("upstream does not answer as the instance")

// errNoID: the address answered /healthz as an instance would, but with no id at all,
// as an app started before SPROUDCHAT_INSTANCE_ID does. The connection is left open and
// clean: it may be used if the runtime vouches for the address.
var errNoID = fmt.Errorf("%w: /healthz answers no instance id", errNotInstance)

// dial is the transport's dial: addr is "<instance id>:80". It connects to where the
// instance should be and checks, on that connection, that the instance answers there.
// When it does not (nothing listens, or something else does), it asks the runtime where
// the instance is now and tries that once. A connection it returns has answered with
// the instance's id; otherwise the request is never sent anywhere.
func (r *Router) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	id, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	r.mu.RLock()
	stored, ok := r.byID[id]
	current := stored
	if m, moved := r.moved[id]; moved {
		current = m.upstream
	}
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("instance %s: no upstream", id)
	}
	conn, err := r.connect(ctx, current, id)
	if err == nil {
		return conn, nil
	}
	r.log.WarnContext(ctx, "edge upstream is not the instance: asking the runtime", "instance_id", id, "upstream", current, "error", err.Error())
	fresh, lerr := r.locate(ctx, id)
	if lerr != nil {
		return nil, fmt.Errorf("%w; locate instance %s: %w", err, id, lerr)
	}
	if fresh == "" || fresh == current {
		return nil, err
	}
	conn, err = r.connect(ctx, fresh, id)
	if err != nil {
		return nil, err
	}
	r.log.InfoContext(ctx, "edge follows the instance to a new upstream", "instance_id", id, "upstream", fresh, "stored_upstream", stored)
	r.mu.Lock()
	if r.byID[id] == stored { // else the store has news; the next request uses them
		if fresh == stored {
			delete(r.moved, id)
		} else {
			r.moved[id] = moved{base: stored, upstream: fresh}
		}
	}
	r.mu.Unlock()
	return conn, nil
}

// locate asks the runtime where instance id answers now. Concurrent requests for one
// instance share one question, and an answer is reused for LookupEvery.
func (r *Router) locate(ctx context.Context, id string) (string, error) {
	r.mu.RLock()
	last, ok := r.asked[id]
	r.mu.RUnlock()
	if ok && r.clock.Now().Sub(last.at) < LookupEvery {
		return last.upstream, last.err
	}
	a, err := r.ask(ctx, id, 0)
	return a.upstream, err
}

// ask returns the runtime's answer to a question about instance id put after question
// number after (see questionsSoFar); 0 takes any question under way. One question per
// instance is under way at a time, shared by everyone who waits for it; a caller that
// needs a later one than that waits for it to end and asks again.
func (r *Router) ask(ctx context.Context, id string, after uint64) (answer, error) {
	if r.locator == nil {
		return answer{}, errors.New("no runtime to ask")
	}
	for {
		ch := r.lookups.DoChan(id, func() (any, error) {
			r.mu.Lock()
			r.questions++
			n := r.questions
			r.mu.Unlock()
			// Detached from the first asker, whose request may end while others wait.
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
			defer cancel()
			st, err := r.locator.Status(lctx, id)
			a := answer{upstream: st.Upstream, running: st.Phase == provisioning.PhaseRunning, ready: st.Ready, app: appOf(st),
				err: err, at: r.clock.Now(), n: n}
			r.mu.Lock()
			r.asked[id] = a
			r.mu.Unlock()
			return a, nil
		})
		select {
		case <-ctx.Done():
			return answer{}, ctx.Err()
		case res := <-ch:
			if a := res.Val.(answer); a.n > after {
				return a, a.err
			}
		}
	}
}

// questionsSoFar is the number of the last question put to the runtime: ask(…, n)
// returns an answer to a question put after this moment.
func (r *Router) questionsSoFar() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.questions
}

// lastAnswer is the runtime's latest answer about instance id (zero if none): a
// question already answered when this returns.
func (r *Router) lastAnswer(id string) answer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.asked[id]
}

// connect dials upstream and checks that instance id answers there. An app that answers
// no id at all is accepted only if the runtime vouches for it (see vouch); when the
// runtime vouches for the address now but had said nothing of it before the dial, the
// connection is dialled and checked once more, so that the earlier answer exists.
func (r *Router) connect(ctx context.Context, upstream, id string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	for round := 0; ; round++ {
		before := r.lastAnswer(id) // answered before the dial below
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", upstream)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", upstream, err)
		}
		err = verify(ctx, conn, upstream, id)
		if errors.Is(err, errNoID) {
			err = r.vouch(ctx, id, upstream, before)
		}
		if err == nil {
			return conn, nil
		}
		conn.Close()
		if round > 0 || !errors.Is(err, errVouchesNow) {
			return nil, err
		}
	}
}

// verify sends GET /healthz on conn, reads the whole answer, and checks that it names
// instance id and leaves the connection open and clean for the requests that follow.
// Returns errNoID, with the connection as clean, when the answer names no id at all;
// an answer with any other id (an empty one too, or more than one) is refused.
func verify(ctx context.Context, conn net.Conn, upstream, id string) error {
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: "+upstream+"\r\nUser-Agent: sproudctl-edge\r\nAccept: application/json\r\n\r\n"); err != nil {
		return fmt.Errorf("check %s: %w", upstream, err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("check %s: %w", upstream, err)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(res.Body, maxHealthBody+1))
	res.Body.Close()
	ids := res.Header.Values(InstanceHeader)
	switch {
	case err != nil:
		return fmt.Errorf("check %s: read body: %w", upstream, err)
	case n > maxHealthBody:
		return fmt.Errorf("check %s: %w: /healthz answer too long", upstream, errNotInstance)
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("check %s: %w: /healthz answers %s", upstream, errNotInstance, res.Status)
	case len(ids) > 0 && (len(ids) != 1 || ids[0] != id):
		return fmt.Errorf("check %s: %w: it answers %q, want %q", upstream, errNotInstance, ids, id)
	case res.Close:
		return fmt.Errorf("check %s: closes the connection after /healthz", upstream)
	case br.Buffered() > 0:
		return fmt.Errorf("check %s: %w: sent more than its /healthz answer", upstream, errNotInstance)
	}
	if !stop() {
		return fmt.Errorf("check %s: %w", upstream, ctx.Err())
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("check %s: %w", upstream, errNoID)
	}
	return nil
}
