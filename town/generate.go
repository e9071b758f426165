package town

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"iter"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/doorstep/doorstep/eventstore"
)

// maxNumber is the largest sequence a problem number can carry (6 digits).
const maxNumber = 999_999

// Generate simulates the town of cfg and calls emit with every batch, in
// global time order (ties broken by household, then by scheduling order).
// Streams are those of the domain (household-, problem-, referral-) plus the
// command layer's per-year problem-number counters (counter-problemno_<year>,
// decision 0011): each problem report is preceded by the counter event that
// allocates its number, so numbers run in report order and the command
// layer continues the sequence on a store the town was written to.
// Batches of one stream come in version order and each continues the
// previous one (Expected is the stream's version before it). emit owns the
// batch it receives. Generation stops at the first error from emit, from
// ctx, or from a command the domain rejected (a bug in the generator, with
// the household and time named); Stats counts what was emitted up to then.
//
// The same cfg gives the same batches, byte for byte, provided cfg.Sealer is
// deterministic. Memory is bounded by cfg.CohortSize households; a town with
// more than one cohort uses temporary files in cfg.TempDir (about 1 KB per
// event), removed before Generate returns. Not safe to call with a Config
// whose Policy or Calendar another goroutine modifies.
func Generate(ctx context.Context, cfg Config, emit func(Batch) error) (Stats, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return Stats{}, fmt.Errorf("town: %w", err)
	}
	if err := c.validate(); err != nil {
		return Stats{}, err
	}
	lay := newLayout(&c)
	n := c.Households
	cohorts := (n + c.CohortSize - 1) / c.CohortSize
	ov := newOverseer(ctx, &c, lay, emit)
	nb := &numberer{c: &c, emit: ov.add, next: map[int]int{}}
	var st Stats
	if cohorts == 1 {
		st, err = drain(ctx, newSim(ctx, &c, lay, 0, n), nb.add)
	} else {
		st, err = generateSpilled(ctx, &c, lay, cohorts, nb.add)
	}
	if err == nil {
		err = ov.finish()
	}
	st = nb.stats(st)
	st.add(ov.stats)
	return st, err
}

// Batches returns Generate as an iterator. The iteration ends after the
// last batch, or after yielding a non-nil error. Stopping early is fine.
func Batches(ctx context.Context, cfg Config) iter.Seq2[Batch, error] {
	errStop := errors.New("stop")
	return func(yield func(Batch, error) bool) {
		_, err := Generate(ctx, cfg, func(b Batch) error {
			if !yield(b, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(Batch{}, err)
		}
	}
}

func drain(ctx context.Context, s *sim, emit func(Batch) error) (Stats, error) {
	var st Stats
	for i := 0; ; i++ {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		b, err := s.next()
		if err != nil {
			return st, err
		}
		if b == nil {
			return s.stats, nil
		}
		if err := emit(*b); err != nil {
			return st, err
		}
		st = s.stats
	}
}

// spilled is a batch as written to a cohort file.
type spilled struct {
	At       int64 // Unix nanoseconds
	Stream   string
	Expected uint64
	Events   []eventstore.EventData
}

// generateSpilled simulates one cohort at a time into a temporary file, then
// merges the files by time. Cohorts hold disjoint, increasing ranges of
// households, so ordering by (time, cohort) reproduces the order a single
// simulation of all households would give.
func generateSpilled(ctx context.Context, c *Config, lay *Layout, cohorts int, emit func(Batch) error) (Stats, error) {
	dir, err := os.MkdirTemp(c.TempDir, "doorstep-town-")
	if err != nil {
		return Stats{}, fmt.Errorf("town: %w", err)
	}
	defer os.RemoveAll(dir)
	var total Stats
	paths := make([]string, cohorts)
	for k := range cohorts {
		from, to := k*c.CohortSize, min(c.Households, (k+1)*c.CohortSize)
		s := newSim(ctx, c, lay, from, to)
		paths[k] = filepath.Join(dir, fmt.Sprintf("cohort-%05d.gob", k))
		st, err := spill(ctx, s, paths[k])
		if err != nil {
			return Stats{}, err
		}
		total.add(st)
	}
	m := &merger{}
	for k, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return Stats{}, fmt.Errorf("town: %w", err)
		}
		defer f.Close()
		src := &source{k: k, dec: gob.NewDecoder(bufio.NewReaderSize(f, 1<<16))}
		ok, err := src.advance()
		if err != nil {
			return Stats{}, err
		}
		if ok {
			m.q = append(m.q, src)
		}
	}
	heap.Init(m)
	for i := 0; len(m.q) > 0; i++ {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return Stats{}, err
			}
		}
		src := m.q[0]
		b := Batch{Stream: src.head.Stream, Expected: src.head.Expected, Events: src.head.Events, At: time.Unix(0, src.head.At).In(c.Location)}
		ok, err := src.advance()
		if err != nil {
			return Stats{}, err
		}
		if ok {
			heap.Fix(m, 0)
		} else {
			heap.Pop(m)
		}
		if err := emit(b); err != nil {
			return Stats{}, err
		}
	}
	return total, nil
}

func spill(ctx context.Context, s *sim, path string) (Stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return Stats{}, fmt.Errorf("town: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := gob.NewEncoder(w)
	st, err := drain(ctx, s, func(b Batch) error {
		return enc.Encode(spilled{At: b.At.UnixNano(), Stream: b.Stream, Expected: b.Expected, Events: b.Events})
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Stats{}, fmt.Errorf("town: spill cohort: %w", err)
	}
	return st, nil
}

type source struct {
	k    int
	dec  *gob.Decoder
	head spilled
}

func (s *source) advance() (bool, error) {
	s.head = spilled{}
	if err := s.dec.Decode(&s.head); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("town: read cohort %d: %w", s.k, err)
	}
	return true, nil
}

type merger struct{ q []*source }

func (m *merger) Len() int { return len(m.q) }
func (m *merger) Less(i, j int) bool {
	a, b := m.q[i], m.q[j]
	if a.head.At != b.head.At {
		return a.head.At < b.head.At
	}
	return a.k < b.k
}
func (m *merger) Swap(i, j int) { m.q[i], m.q[j] = m.q[j], m.q[i] }
func (m *merger) Push(x any)    { m.q = append(m.q, x.(*source)) }
func (m *merger) Pop() any {
	x := m.q[len(m.q)-1]
	m.q = m.q[:len(m.q)-1]
	return x
}

// Write generates the town of cfg and appends it to store, each batch with
// eventstore.Exact(Expected). Event ids are deterministic, so writing the
// same town again is a retry the store answers without writing anything: an
// interrupted Write can simply be run again. A different history over the
// same streams fails with a conflict. cfg.WriteConcurrency
// appends run at once; every stream is appended by one worker in version
// order, so per-stream order is exact, while the global log order across
// streams follows time order only approximately when WriteConcurrency > 1.
// Consecutive batches of one stream that are waiting for the same worker
// are appended together. It returns the generation's Stats and the first
// error; appends in flight
// when an error occurs complete or fail on their own.
func Write(ctx context.Context, store eventstore.Store, cfg Config) (Stats, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return Stats{}, fmt.Errorf("town: %w", err)
	}
	appendBatch := func(ctx context.Context, b Batch) error {
		if _, err := store.Append(ctx, b.Stream, eventstore.Exact(b.Expected), b.Events...); err != nil {
			return fmt.Errorf("town: append %s at version %d: %w", b.Stream, b.Expected, err)
		}
		return nil
	}
	workers := c.WriteConcurrency
	if workers == 1 {
		return Generate(ctx, cfg, func(b Batch) error { return appendBatch(ctx, b) })
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chans := make([]chan Batch, workers)
	var wg sync.WaitGroup
	for i := range chans {
		chans[i] = make(chan Batch, 64)
		wg.Go(func() {
			for b := range chans[i] {
				// Batches already waiting go out grouped by stream, each
				// group in one append (per-stream order is kept): the busy
				// per-year counter stream would otherwise pay one commit per
				// problem.
				groups := []Batch{b}
				for more := len(groups) < 512; more; more = more && len(groups) < 512 {
					select {
					case nb, ok := <-chans[i]:
						if !ok {
							more = false
							break
						}
						groups = addToGroup(groups, nb)
					default:
						more = false
					}
				}
				for _, g := range groups {
					if ctx.Err() != nil {
						break
					}
					if err := appendBatch(ctx, g); err != nil {
						cancel(err)
					}
				}
			}
		})
	}
	st, err := Generate(ctx, cfg, func(b Batch) error {
		h := fnv.New32a()
		h.Write([]byte(b.Stream))
		select {
		case chans[h.Sum32()%uint32(workers)] <- b:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	// A writer's failure cancels the generation with it as the cause: the
	// generator may then stop on the bare cancellation (its oversight checks
	// ctx), which must not hide the failure.
	if cause := context.Cause(ctx); cause != nil && (err == nil || errors.Is(err, context.Canceled) && !errors.Is(cause, context.Canceled)) {
		err = cause
	}
	return st, err
}

// addToGroup adds b to the group of its stream when it continues it and the
// group has room, else starts a new group.
func addToGroup(groups []Batch, b Batch) []Batch {
	for i := len(groups) - 1; i >= 0; i-- {
		g := &groups[i]
		if g.Stream != b.Stream {
			continue
		}
		if g.Expected+uint64(len(g.Events)) == b.Expected && len(g.Events)+len(b.Events) <= eventstore.DefaultMaxBatchEvents {
			g.Events = append(g.Events[:len(g.Events):len(g.Events)], b.Events...)
			return groups
		}
		break
	}
	return append(groups, b)
}
