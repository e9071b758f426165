package http

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// AccessRecord is one read of sensitive fields: who (name and role), which
// household, what, when. It never holds the values read.
type AccessRecord struct {
	At          time.Time `json:"at"`
	Actor       string    `json:"actor"`
	Role        Role      `json:"role"`
	HouseholdID string    `json:"household_id"`
	What        string    `json:"what"`
}

// groupCommit makes records durable in groups: a record waits for the
// write of its group, and the records that arrive while one group is being
// written form the next. One goroutine at a time writes; it runs only while
// records are pending. Safe for concurrent use.
type groupCommit[T any] struct {
	write func([]T) error

	mu      sync.Mutex
	pending []T
	waiters []chan error
	running bool
}

// add queues r and waits until the group holding it is written (or ctx
// ends; the record is then still written, but the caller does not wait).
func (g *groupCommit[T]) add(ctx context.Context, r T) error {
	done := make(chan error, 1)
	g.mu.Lock()
	g.pending = append(g.pending, r)
	g.waiters = append(g.waiters, done)
	if !g.running {
		g.running = true
		go g.flush()
	}
	g.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush writes pending groups until none are left.
func (g *groupCommit[T]) flush() {
	for {
		g.mu.Lock()
		if len(g.pending) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		recs, ws := g.pending, g.waiters
		g.pending, g.waiters = nil, nil
		g.mu.Unlock()
		err := g.write(recs)
		for _, w := range ws {
			w <- err
		}
	}
}

// AccessLog records reads of sensitive fields as JSON lines (AccessRecord)
// in a file (append-only, mode 0600). Safe for concurrent use.
type AccessLog struct {
	f   *os.File
	now func() time.Time
	gc  groupCommit[[]byte]
}

// AccessFile is the name of the access log in the data directory.
const AccessFile = "sensitive-reads.jsonl"

// OpenAccessLog opens (creating) the access log at path.
func OpenAccessLog(path string, now func() time.Time) (*AccessLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	a := &AccessLog{f: f, now: now}
	a.gc.write = a.write
	return a, nil
}

// RecordAccess implements AccessRecorder. It returns only after the line
// is written and synced, so a read is never served unrecorded. Concurrent
// records share one write and one fsync (group commit).
func (a *AccessLog) RecordAccess(ctx context.Context, who Principal, householdID, what string) error {
	line, err := json.Marshal(AccessRecord{At: a.now().UTC(), Actor: who.Name, Role: who.Role, HouseholdID: householdID, What: what})
	if err != nil {
		return err
	}
	return a.gc.add(ctx, append(line, '\n'))
}

func (a *AccessLog) write(lines [][]byte) error {
	var buf []byte
	for _, l := range lines {
		buf = append(buf, l...)
	}
	_, err := a.f.Write(buf)
	if err == nil {
		err = a.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}

// Close closes the file. Call it after the last RecordAccess has returned.
func (a *AccessLog) Close() error { return a.f.Close() }
