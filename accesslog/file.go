package accesslog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// Record is one read of sensitive fields: who (name and role), which
// household, what, when. It never holds the values read.
type Record struct {
	At          time.Time     `json:"at"`
	Actor       string        `json:"actor"`
	Role        identity.Role `json:"role"`
	HouseholdID string        `json:"household_id"`
	What        string        `json:"what"`
	// Purpose is why the values were revealed (Purpose…); empty in
	// records from before purposes were asked.
	Purpose string `json:"purpose,omitempty"`
	// Prev and Hash chain the records (chain.go).
	Prev string `json:"prev,omitempty"`
	Hash string `json:"hash,omitempty"`
}

// groupCommit makes records durable in groups: a record waits for the
// write of its group, and the records that arrive while one group is being
// written form the next. One goroutine at a time writes; it runs only while
// records are pending. Safe for concurrent use.
type groupCommit[T any] struct {
	// write writes one group under a context that ends once every caller
	// waiting for the group has stopped waiting.
	write func(ctx context.Context, recs []T) error

	mu      sync.Mutex
	pending []T
	waiters []waiter
	running bool
}

type waiter struct {
	ctx  context.Context
	done chan error
}

// add queues r and waits until the group holding it is written, or until
// ctx ends: the caller then stops waiting (its read is not served), and the
// group's write is cancelled once no caller waits for it any more.
func (g *groupCommit[T]) add(ctx context.Context, rs ...T) error {
	done := make(chan error, 1)
	g.mu.Lock()
	g.pending = append(g.pending, rs...)
	g.waiters = append(g.waiters, waiter{ctx, done})
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
		ctx, stop := groupContext(ws)
		err := g.write(ctx, recs)
		stop()
		for _, w := range ws {
			w.done <- err
		}
	}
}

// groupContext returns a context for writing the group of ws: it carries
// the first caller's values and ends when the contexts of all of ws have
// ended (a caller still waiting keeps the write alive). Call stop when the
// write is done.
func groupContext(ws []waiter) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ws[0].ctx))
	var mu sync.Mutex
	left := len(ws)
	stops := make([]func() bool, len(ws))
	for i, w := range ws {
		stops[i] = context.AfterFunc(w.ctx, func() {
			mu.Lock()
			left--
			last := left == 0
			mu.Unlock()
			if last {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// File records reads of sensitive fields as JSON lines (Record) in a file
// (append-only, mode 0600). Safe for concurrent use.
type File struct {
	path string
	f    *os.File
	// write appends to f (f.Write); tests make it fail part-way, as a full
	// disk does.
	write func([]byte) (int, error)
	// end is the size of the file up to its last whole record; torn, that
	// bytes past end may be on disk (a failed write that could not be cut
	// back). Only the group commit's writer (and OpenFile) touch them.
	end  int64
	torn bool
	head string // hash of the last record (chain.go); "" before the first chained one
	now  func() time.Time
	gc   groupCommit[Record]
}

// FileName is the name of the file in the data directory.
const FileName = "sensitive-reads.jsonl"

// OpenFile opens (creating) the record of sensitive reads at path.
func OpenFile(path string, now func() time.Time) (*File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	// A crash (or a full disk) in the middle of a write leaves a torn
	// last line, the record of a read that was never served: cut it off,
	// so the next record starts a line of its own.
	end, err := wholeRecords(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("access log: repair the torn end of %s: %w", path, err)
	}
	if now == nil {
		now = clock.Now
	}
	head, err := lastHash(f, end)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("access log: read the last record of %s: %w", path, err)
	}
	a := &File{path: path, f: f, write: f.Write, end: end, head: head, now: now}
	a.gc.write = a.writeGroup
	return a, nil
}

// wholeRecords cuts f after its last newline (when its last line is torn)
// and returns its size then.
func wholeRecords(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	end := size
	buf := make([]byte, 4096)
	for end > 0 {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == size {
		return size, nil
	}
	if err := f.Truncate(end); err != nil {
		return 0, err
	}
	return end, f.Sync()
}

// RecordAccess records that who read what of a household's sensitive
// fields. It returns only after the line is written and synced, so a read
// is never served unrecorded; an error (or ctx ending first) means the
// read must not be served. Concurrent records share one write and one
// fsync (group commit).
func (a *File) RecordAccess(ctx context.Context, who identity.Principal, householdID, what string) error {
	return a.RecordReveal(ctx, who, householdID, what, "")
}

// RecordReveal is RecordAccess with the purpose the values are revealed for.
func (a *File) RecordReveal(ctx context.Context, who identity.Principal, householdID, what, purpose string) error {
	return a.gc.add(ctx, Record{At: stamp(a.now()), Actor: who.Name, Role: who.Role, HouseholdID: householdID, What: what, Purpose: purpose})
}

// lastHash returns the hash of the last whole record of f (which ends at
// end), or "" when there is none or it has none.
func lastHash(f *os.File, end int64) (string, error) {
	if end == 0 {
		return "", nil
	}
	start := end - 1 // the last record's newline
	buf := make([]byte, 4096)
	var line []byte
	for start > 0 {
		n := int64(len(buf))
		if n > start {
			n = start
		}
		if _, err := f.ReadAt(buf[:n], start-n); err != nil {
			return "", err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			line = append(append([]byte{}, buf[i+1:n]...), line...)
			start = -1
			break
		}
		line = append(append([]byte{}, buf[:n]...), line...)
		start -= n
	}
	var r Record
	if json.Unmarshal(line, &r) != nil {
		return "", nil
	}
	return r.Hash, nil
}

// writeGroup appends lines and syncs; a file write cannot be cancelled,
// so ctx is unused. A write or sync that fails (a full disk) is cut back to
// the last whole record, so that no partial line is left for the next
// record to be appended to (it would be skipped as torn, and a served read
// would go unlisted); every record of the group gets the error, so none of
// their reads is served. Should the cut itself fail, no record is written
// until a later cut succeeds.
func (a *File) writeGroup(_ context.Context, recs []Record) error {
	if a.torn {
		if err := a.cut(); err != nil {
			return fmt.Errorf("access log: the end of %s holds a partial record that cannot be cut off (%w); no read is recorded, and so none served, until it can", a.path, err)
		}
	}
	head := chain(a.head, recs)
	var buf []byte
	for _, r := range recs {
		l, err := json.Marshal(r)
		if err != nil {
			return err
		}
		buf = append(append(buf, l...), '\n')
	}
	_, err := a.write(buf)
	if err == nil {
		err = a.f.Sync()
	}
	if err != nil {
		if cerr := a.cut(); cerr != nil {
			a.torn = true
		}
		return fmt.Errorf("access log: %w", err)
	}
	a.end += int64(len(buf))
	a.head = head
	return nil
}

// cut truncates the file to its last whole record.
func (a *File) cut() error {
	if err := a.f.Truncate(a.end); err != nil {
		return err
	}
	a.torn = false
	return a.f.Sync()
}

// SensitiveReads lists a household's reads, newest first, by reading the whole file: the
// embedded store serves one machine, and auditors ask rarely. A last line
// still being written (no newline yet) is left out, and so is a line torn
// by a crash: its read was never served.
func (a *File) SensitiveReads(ctx context.Context, householdID string, limit, offset int) ([]Record, error) {
	var out []Record
	err := a.scan(ctx, func(r Record, ok bool) error {
		if ok && r.HouseholdID == householdID { // a torn line's read was never served
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(out)
	if offset >= len(out) {
		return []Record{}, nil
	}
	return out[offset:min(len(out), offset+limit)], nil
}

// Close closes the file. Call it after the last RecordAccess has returned.
func (a *File) Close() error { return a.f.Close() }

// Verify reads the whole record in order and checks its chain.
func (a *File) Verify(ctx context.Context) (ChainReport, error) {
	recs, err := a.all(ctx)
	if err != nil {
		return ChainReport{}, err
	}
	var v verifier
	for _, r := range recs {
		if !v.next(r) {
			break
		}
	}
	return v.report(), nil
}

// Reveals lists every household's reads, newest first.
func (a *File) Reveals(ctx context.Context, limit, offset int) ([]Record, error) {
	out, err := a.all(ctx)
	if err != nil {
		return nil, err
	}
	slices.Reverse(out)
	if offset >= len(out) {
		return []Record{}, nil
	}
	return out[offset:min(len(out), offset+limit)], nil
}

// all reads every whole record, in order. A line that does not parse (torn
// by a crash) is kept as an empty record, so that Verify reports it.
func (a *File) all(ctx context.Context) ([]Record, error) {
	var out []Record
	err := a.scan(ctx, func(r Record, ok bool) error {
		if !ok {
			r = Record{What: "(unreadable line)", Hash: "unreadable"}
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// scan calls f with every whole line of the file, in order, until f fails:
// the line's record and whether it parsed (a line torn by a crash does
// not). A last line still being written (no newline yet) is left out.
func (a *File) scan(ctx context.Context, f func(r Record, ok bool) error) error {
	fh, err := os.Open(a.path)
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	defer fh.Close()
	rd := bufio.NewReader(fh)
	for n := 1; ; n++ {
		line, err := rd.ReadBytes('\n')
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("access log: %w", err)
		}
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var r Record
		ok := json.Unmarshal(line, &r) == nil
		if err := f(r, ok); err != nil {
			return err
		}
	}
}
