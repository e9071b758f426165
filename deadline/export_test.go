package deadline

import (
	"context"
	"fmt"
	"reflect"
)

// CheckState compares every subject the watcher keeps folded with a fold
// of its whole stream and returns how many it compared.
func (w *Watcher) CheckState(ctx context.Context) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for s, l := range w.state {
		full, err := w.load(ctx, s)
		if err != nil {
			return 0, err
		}
		if !reflect.DeepEqual(full.agg, l.agg) || !reflect.DeepEqual(full.clocks, l.clocks) || full.community != l.community {
			return 0, fmt.Errorf("%s: kept version %d community %q clocks %+v; the stream gives version %d community %q clocks %+v",
				s, l.agg.Version(), l.community, l.clocks, full.agg.Version(), full.community, full.clocks)
		}
	}
	return len(w.state), nil
}

// Forget drops a subject's kept state, as if stateLimit had evicted it.
func (w *Watcher) Forget(stream string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.state, stream)
}
