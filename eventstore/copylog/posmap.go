package copylog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/doorstep/doorstep/eventstore"
)

// Map maps the positions of a copied log's events in the source to their
// positions in the target. The zero Map is empty and ready.
type Map struct {
	old, new []eventstore.Position // old in increasing order
}

func (m *Map) add(o, n eventstore.Position) {
	m.old = append(m.old, o)
	m.new = append(m.new, n)
}

// Len returns the number of events mapped.
func (m *Map) Len() int { return len(m.old) }

// Lookup returns the target position of the event at source position old,
// or ok false when no event of the source was at old.
func (m *Map) Lookup(old eventstore.Position) (eventstore.Position, bool) {
	i := sort.Search(len(m.old), func(i int) bool { return !m.old[i].Before(old) })
	if i < len(m.old) && m.old[i] == old {
		return m.new[i], true
	}
	return eventstore.Position{}, false
}

// mapHeader is the first line of a map file.
const mapHeader = "doorstep position map v1"

// MaxMapEvents bounds the entries of a map file ReadMapFile accepts.
const MaxMapEvents = 100_000_000

// WriteFile writes the map to path atomically (a temporary file renamed):
// a header line, then one "old new" pair of position tokens per line, in
// the source's log order.
func (m *Map) WriteFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".position-map-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	fmt.Fprintln(w, mapHeader)
	for i := range m.old {
		fmt.Fprintf(w, "%s %s\n", m.old[i], m.new[i])
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadMapFile reads a map written by WriteFile. A file that is not one, or
// whose old positions do not increase, is an error naming the line.
func ReadMapFile(path string) (*Map, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readMap(f, path)
}

func readMap(r io.Reader, name string) (*Map, error) {
	sc := bufio.NewScanner(r)
	bad := func(line int, why string) error {
		return fmt.Errorf("position map %s, line %d: %s (write it with doorstep migrate -position-map) / 位置映射文件无效", name, line, why)
	}
	if !sc.Scan() || sc.Text() != mapHeader {
		return nil, bad(1, "not a Doorstep position map")
	}
	m := &Map{}
	line := 1
	for sc.Scan() {
		line++
		if m.Len() >= MaxMapEvents {
			return nil, bad(line, fmt.Sprintf("more than %d entries", MaxMapEvents))
		}
		o, n, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			return nil, bad(line, "want two position tokens")
		}
		op, err1 := eventstore.ParsePosition(o)
		np, err2 := eventstore.ParsePosition(n)
		if err := errors.Join(err1, err2); err != nil {
			return nil, bad(line, err.Error())
		}
		if m.Len() > 0 && !m.old[m.Len()-1].Before(op) {
			return nil, bad(line, "old positions must increase")
		}
		m.add(op, np)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("position map %s: %w", name, err)
	}
	return m, nil
}
