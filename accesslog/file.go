package http

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/doorstep/doorstep/internal/clock"
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
	path string
	f    *os.File
	now  func() time.Time
	gc   groupCommit[[]byte]
}

// AccessReader lists the recorded reads of a household's sensitive fields,
// newest first, for auditors.
type AccessReader interface {
	SensitiveReads(ctx context.Context, householdID string, limit, offset int) ([]AccessRecord, error)
}

// AccessFile is the name of the access log in the data directory.
const AccessFile = "sensitive-reads.jsonl"

// OpenAccessLog opens (creating) the access log at path.
func OpenAccessLog(path string, now func() time.Time) (*AccessLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	// A crash in the middle of a write leaves a torn last line (a read
	// that was never served): end it, so the next record starts a line.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return nil, fmt.Errorf("access log: %w", err)
			}
		}
	}
	if now == nil {
		now = clock.Now
	}
	a := &AccessLog{path: path, f: f, now: now}
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

// SensitiveReads implements AccessReader by reading the whole file: the
// embedded store serves one machine, and auditors ask rarely. A last line
// still being written (no newline yet) is left out, and so is a line torn
// by a crash: its read was never served.
func (a *AccessLog) SensitiveReads(ctx context.Context, householdID string, limit, offset int) ([]AccessRecord, error) {
	f, err := os.Open(a.path)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	var out []AccessRecord
	rd := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := rd.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("access log: %w", err)
		}
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var r AccessRecord
		if json.Unmarshal(line, &r) != nil {
			continue // torn by a crash
		}
		if r.HouseholdID == householdID {
			out = append(out, r)
		}
	}
	slices.Reverse(out)
	if offset >= len(out) {
		return []AccessRecord{}, nil
	}
	return out[offset:min(len(out), offset+limit)], nil
}

// Close closes the file. Call it after the last RecordAccess has returned.
func (a *AccessLog) Close() error { return a.f.Close() }
