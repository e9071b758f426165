package postgres

import (
	"context"
	"sync"
	"time"
)

// horizon holds back the answer to an append until its events are
// readable in the log, so that a caller who reads the log (or asks Head)
// after Append returns finds its events there, as on the embedded store.
//
// Events of transaction X are readable once the xmin of a new snapshot is
// above X: every transaction with a lower id has ended. The append
// statement itself returns the xmin of its snapshot; if that equals its own
// transaction id, no older transaction can be open and the callers are
// answered at once, at no cost. Otherwise the group waits here until the
// horizon passes its id: when the ids in between are the commits of this
// process's other writers (see committed), or when a later xmin shows that
// the others have ended too — asked for by a writer right after its commit
// while groups are still waiting, or polled by a goroutine, every 0.3 ms
// while the oldest group has waited less than 50 ms, less often after. A
// group waits at most Config.VisibilityWait: a transaction left open
// elsewhere on the server must not stall every append. After that, or if
// the server cannot be asked, the callers are answered anyway; their events
// are durable and become readable when that transaction ends.
type horizon struct {
	s       *Store
	mu      sync.Mutex
	visible uint64          // every transaction id below it has ended
	ours    map[uint64]bool // ids at or above visible that this process committed
	pending []pendingGroup
	kick    chan struct{} // capacity 1
	stop    chan struct{}
	done    chan struct{}
}

type pendingGroup struct {
	xid   uint64 // the highest transaction id the group wrote
	group []*appendReq
	since time.Time
}

const xminSQL = `SELECT pg_snapshot_xmin(pg_current_snapshot())`

func newHorizon(s *Store) *horizon {
	return &horizon{s: s, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// seen records an xmin observed in a snapshot.
func (h *horizon) seen(xmin uint64) {
	h.mu.Lock()
	h.advance(xmin)
	h.mu.Unlock()
}

// committed records that this process committed transaction xid, whose
// statement saw xmin: every id below xmin had ended by then, and xid has
// now. Transaction ids are consecutive, so when the ids between the
// horizon and xid are all commits of this process (the usual case: the
// writers' groups waited on each other), the horizon moves past xid with
// no query.
func (h *horizon) committed(xid, xmin uint64) {
	h.mu.Lock()
	if h.ours == nil {
		h.ours = make(map[uint64]bool)
	}
	if xid >= h.visible {
		h.ours[xid] = true
	}
	h.advance(xmin)
	h.mu.Unlock()
}

// advance moves the horizon to xmin if that is later, then past every
// commit of this process that follows it. Call with mu held.
func (h *horizon) advance(xmin uint64) {
	if xmin > h.visible {
		for x := range h.ours {
			if x < xmin {
				delete(h.ours, x)
			}
		}
		h.visible = xmin
	}
	for h.ours[h.visible] {
		delete(h.ours, h.visible)
		h.visible++
	}
}

// readable reports whether the events of transaction xid are known to be
// readable in the log.
func (h *horizon) readable(xid uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return xid < h.visible
}

// refresh asks the server for the xmin now and answers the groups it frees.
func (h *horizon) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), h.s.cfg.VisibilityWait)
	defer cancel()
	var xmin uint64
	if err := h.s.pool.QueryRow(ctx, xminSQL).Scan(&xmin); err == nil {
		h.seen(xmin)
		h.release(false)
	}
}

// hold keeps the group's answers until xid is readable. The group slice is
// the caller's: hold copies it.
func (h *horizon) hold(xid uint64, group []*appendReq) {
	h.mu.Lock()
	h.pending = append(h.pending, pendingGroup{xid: xid, group: append([]*appendReq(nil), group...), since: time.Now()})
	h.mu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// release answers the groups that are readable, or have waited long
// enough, or all of them when all is set.
func (h *horizon) release(all bool) (left int) {
	now := time.Now()
	var out []pendingGroup
	h.mu.Lock()
	keep := h.pending[:0]
	for _, p := range h.pending {
		if all || p.xid < h.visible || now.Sub(p.since) >= h.s.cfg.VisibilityWait {
			out = append(out, p)
		} else {
			keep = append(keep, p)
		}
	}
	h.pending = keep
	left = len(keep)
	h.mu.Unlock()
	for _, p := range out {
		answer(p.group)
	}
	if len(out) > 0 {
		h.s.notify.Notify()
	}
	return left
}

// answer wakes the callers of a group.
func answer(group []*appendReq) {
	for _, r := range group {
		close(r.done)
	}
}

// run polls the xmin while groups wait. It ends when stop is closed, after
// answering every group still waiting; the writers have stopped by then.
func (h *horizon) run() {
	defer close(h.done)
	for {
		if h.release(false) == 0 {
			select {
			case <-h.stop:
				h.release(true)
				return
			case <-h.kick:
				continue
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), h.s.cfg.VisibilityWait)
		var xmin uint64
		err := h.s.pool.QueryRow(ctx, xminSQL).Scan(&xmin)
		cancel()
		if err != nil {
			// Cannot ask: answer everyone; the events are durable.
			h.release(true)
			continue
		}
		h.seen(xmin)
		if h.release(false) == 0 {
			continue
		}
		select {
		case <-h.stop:
			h.release(true)
			return
		case <-time.After(h.pause()):
		}
	}
}

// pause is how long the poller waits before asking again: briefly while the
// oldest group has waited only as long as ordinary transactions last, then
// longer, so that a transaction left open elsewhere costs few queries.
func (h *horizon) pause() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.pending) == 0 {
		return 0
	}
	switch age := time.Since(h.pending[0].since); {
	case age < 50*time.Millisecond:
		return 300 * time.Microsecond
	case age < 500*time.Millisecond:
		return 5 * time.Millisecond
	default:
		return 50 * time.Millisecond
	}
}
