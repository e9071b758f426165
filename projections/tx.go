package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Tx is the transaction a projection writes through. Queries use '?'
// placeholders (see Dialect); statements are prepared once per engine and
// reused. A Tx is used by one goroutine at a time.
type Tx struct {
	tx    *sql.Tx
	cache *Statements
	local map[string]*sql.Stmt
}

// Dialect returns the dialect of the database the transaction runs on.
func (t *Tx) Dialect() Dialect { return t.cache.d }

func (t *Tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := t.local[query]; ok {
		return s, nil
	}
	s, err := t.cache.Get(ctx, query)
	if err != nil {
		return nil, err
	}
	ts := t.tx.StmtContext(ctx, s)
	t.local[query] = ts
	return ts, nil
}

// Exec runs a statement inside the transaction.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) error {
	s, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	_, err = s.ExecContext(ctx, args...)
	return err
}

// Query runs a query inside the transaction.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// QueryRow runs a query that returns at most one row inside the transaction.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := t.stmt(ctx, query)
	if err != nil {
		// A Row carrying the error: QueryRowContext on the raw transaction
		// reports the same preparation error from Scan.
		return t.tx.QueryRowContext(ctx, t.cache.d.Rebind(query), args...)
	}
	return s.QueryRowContext(ctx, args...)
}

func (t *Tx) close() {
	for _, s := range t.local {
		s.Close()
	}
}

// Statements prepares queries (with ? placeholders, see Dialect) on a
// database once and keeps them: the engine's transactions and the readers'
// hot queries run the same few statements all the time, and parsing their
// SQL cost as much as running it. Keep the set of query texts bounded. Safe
// for concurrent use.
type Statements struct {
	db *sql.DB
	d  Dialect
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// NewStatements returns an empty set for db; a nil d means SQLite.
func NewStatements(db *sql.DB, d Dialect) *Statements {
	if d == nil {
		d = SQLite
	}
	return &Statements{db: db, d: d, m: map[string]*sql.Stmt{}}
}

// Get returns query prepared, preparing it on first use.
func (c *Statements) Get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[query]; ok {
		return s, nil
	}
	s, err := c.db.PrepareContext(ctx, c.d.Rebind(query))
	if err != nil {
		return nil, fmt.Errorf("projections: prepare %q: %w", query, err)
	}
	c.m[query] = s
	return s, nil
}

// Close closes the prepared statements; later calls to Get prepare anew.
func (c *Statements) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, s := range c.m {
		errs = append(errs, s.Close())
	}
	c.m = map[string]*sql.Stmt{}
	return errors.Join(errs...)
}

// keyBuckets are the IN-list sizes QueryKeys prepares: a short list is
// padded up to the next size, so only these statements are ever prepared.
var keyBuckets = []int{1, 8, 64, 512}

// QueryKeys runs query once per chunk of keys and calls row for every
// result row. query must contain the token "(?*)" where the IN list goes,
// e.g. "SELECT … FROM t WHERE id IN (?*)". Duplicate keys are harmless.
func (t *Tx) QueryKeys(ctx context.Context, query string, keys []string, row func(*sql.Rows) error) error {
	for len(keys) > 0 {
		size := keyBuckets[len(keyBuckets)-1]
		for _, b := range keyBuckets {
			if b >= len(keys) {
				size = b
				break
			}
		}
		n := min(size, len(keys))
		args := make([]any, size)
		for i := range args {
			if i < n {
				args[i] = keys[i]
			} else {
				args[i] = keys[0]
			}
		}
		q := strings.Replace(query, "(?*)", "("+strings.TrimSuffix(strings.Repeat("?,", size), ",")+")", 1)
		rows, err := t.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := row(rows); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// Keys collects distinct strings in first-seen order.
type Keys struct {
	seen map[string]struct{}
	list []string
}

// Add adds k unless it is empty or already there.
func (k *Keys) Add(s string) {
	if s == "" {
		return
	}
	if k.seen == nil {
		k.seen = map[string]struct{}{}
	}
	if _, ok := k.seen[s]; ok {
		return
	}
	k.seen[s] = struct{}{}
	k.list = append(k.list, s)
}

// List returns the keys in first-seen order.
func (k *Keys) List() []string { return k.list }
