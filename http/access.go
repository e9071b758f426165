package http

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// AccessLog records reads of sensitive fields as JSON lines in a file
// (append-only, mode 0600): who (name and role), which household, what,
// when. It never records the values read. Safe for concurrent use.
type AccessLog struct {
	f   *os.File
	now func() time.Time

	mu      sync.Mutex
	pending []byte       // lines not yet written
	waiters []chan error // their writers, waiting for the sync
	syncing bool         // a flusher goroutine is running
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
	return &AccessLog{f: f, now: now}, nil
}

// RecordAccess implements AccessRecorder. It returns only after the line
// is written and synced, so a read is never served unrecorded. Concurrent
// records share one write and one fsync (group commit).
func (a *AccessLog) RecordAccess(ctx context.Context, who Principal, householdID, what string) error {
	line, err := json.Marshal(map[string]any{"at": a.now().UTC(), "actor": who.Name, "role": who.Role, "household_id": householdID, "what": what})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	a.mu.Lock()
	a.pending = append(append(a.pending, line...), '\n')
	a.waiters = append(a.waiters, done)
	if !a.syncing {
		a.syncing = true
		go a.flush()
	}
	a.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush writes and syncs pending lines until none are left.
func (a *AccessLog) flush() {
	for {
		a.mu.Lock()
		if len(a.pending) == 0 {
			a.syncing = false
			a.mu.Unlock()
			return
		}
		buf, ws := a.pending, a.waiters
		a.pending, a.waiters = nil, nil
		a.mu.Unlock()
		_, err := a.f.Write(buf)
		if err == nil {
			err = a.f.Sync()
		}
		if err != nil {
			err = fmt.Errorf("access log: %w", err)
		}
		for _, w := range ws {
			w <- err
		}
	}
}

// Close closes the file. Call it after the last RecordAccess has returned.
func (a *AccessLog) Close() error { return a.f.Close() }
