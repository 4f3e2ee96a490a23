package edge

import (
	"context"
	"fmt"

	"github.com/sproudstack/sproudchat/provisioning"
)

// errVouchesNow: the runtime vouches for the address now, but its answer from before
// the dial did not name the same app there. connect dials again; the answer just given
// is then the one from before.
var errVouchesNow = fmt.Errorf("%w, and the runtime named no app there before the dial", errNoID)

// vouch decides about a connection to upstream whose /healthz answered no instance id
// at all (errNoID): it may carry instance id's requests only if the runtime vouches for
// that address. before is the runtime's latest answer, read before the connection was
// dialled. Returns nil to accept, errVouchesNow to dial once more, else why not.
//
// Why this is safe. Nothing in a legacy app's answer says who sent it, so the proof must
// come from the runtime, in answers that bracket the connection. A running app holds its
// port (a running container's published port is held by the engine, a process runtime's
// child listens on its own), and while it is held nobody else can listen there. So if
// the runtime saw the same app running at upstream both before the dial (before) and
// after the /healthz answer came (now), the app held upstream throughout and the
// connection reached it. Both halves matter:
//   - now is an answer to a question put after the check: never a cached answer, nor a
//     question under way since before it. A cached one may predate the app's death, after
//     which an impostor took the port; trusting it is the race this rules out.
//   - before rules out an impostor that holds the port while the edge connects, lets it
//     go before it answers, and the app comes back on the same port (the process runtime
//     restarts a dead child on its old port): the runtime would then name the port truly,
//     but name another app. A process is named by its pid; a restarted container keeps its
//     name but is given a new port by the engine.
//
// The check costs one question per new connection: pooled connections are reused
// without one, and concurrent checks of one instance share a question.
func (r *Router) vouch(ctx context.Context, id, upstream string, before answer) error {
	checked := r.questionsSoFar() // the /healthz answer has come: later questions are fresh
	now, err := r.ask(ctx, id, checked)
	switch {
	case err != nil:
		return fmt.Errorf("%w; ask the runtime: %w", errNoID, err)
	case now.upstream != upstream || !now.running || !now.ready || now.app == "":
		return fmt.Errorf("%w, and the runtime says the instance's app is at %q (running %t, ready %t)", errNoID, now.upstream, now.running, now.ready)
	case before.err != nil || before.upstream != upstream || !before.running || before.app != now.app:
		return errVouchesNow
	}
	r.mu.Lock()
	first := !r.legacy[id]
	r.legacy[id] = true
	r.mu.Unlock()
	if first {
		r.log.WarnContext(ctx, "edge upstream answers no instance id (its app was started before SPROUDCHAT_INSTANCE_ID): "+
			"its connections are used on the runtime's word; recreate the app to restore the identity check",
			"instance_id", id, "upstream", upstream)
	}
	return nil
}

// appOf is the runtime's name of the instance's one app component ("" if it reports
// none, or more than one).
func appOf(st provisioning.Status) string {
	name := ""
	for _, c := range st.Components {
		if c.Kind != "app" {
			continue
		}
		if name != "" {
			return ""
		}
		name = c.Name
	}
	return name
}
