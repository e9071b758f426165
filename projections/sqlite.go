package projections

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/doorstep/doorstep/eventstore"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ReadModelPath returns the conventional path of the read-model database
// beside an events file: "events.db" → "events.readmodels.db" (decision 0030).
func ReadModelPath(eventsPath string) string {
	ext := filepath.Ext(eventsPath)
	return strings.TrimSuffix(eventsPath, ext) + ".readmodels" + ext
}

// OpenSQLite opens (creating if needed) a SQLite read-model database in its
// own file: WAL, synchronous NORMAL (a power cut may lose the last batches,
// never half of one: they are re-applied from the log, which is the durable
// record), BEGIN IMMEDIATE, a busy timeout. The pool allows several readers
// beside the engine's writer.
func OpenSQLite(ctx context.Context, path string) (*sql.DB, error) {
	return openSQLite(ctx, path, EngineCacheKiB)
}

// OpenSQLiteQueries opens the read-model database for a pool of queries:
// as OpenSQLite, with the smaller page cache of a reader.
func OpenSQLiteQueries(ctx context.Context, path string) (*sql.DB, error) {
	return openSQLite(ctx, path, QueryCacheKiB)
}

// Page cache of each read-model connection, in KiB. Each connection keeps
// its own, outside the Go heap, at about twice its size (the driver's
// allocator gives each 4 KiB page an 8 KiB block), so these bound the
// read models' share of the server's memory (decision 0089): the engine's
// four connections 8 MiB each, a query pool's connections 2 MiB each.
// (Up to 256 MiB each before: with a dozen connections that could reach
// gigabytes as the tables grew.)
const (
	EngineCacheKiB = 8 << 10
	QueryCacheKiB  = 2 << 10
)

func openSQLite(ctx context.Context, path string, cacheKiB int) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cacheKiB))
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("projections: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("projections: open %s: %w", path, err)
	}
	return db, nil
}

// SQLiteCounter returns a Counter for the embedded event store's file at
// eventsPath, which stores the global position as the row id (Position{0,
// rowid}, see eventstore.Position). The returned close function releases
// its read-only connection.
func SQLiteCounter(eventsPath string) (Counter, func() error, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: eventsPath}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	c := func(ctx context.Context, after eventstore.Position) (int64, error) {
		var n int64
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE position > ?`, int64(after.Lo)).Scan(&n)
		return n, err
	}
	return c, db.Close, nil
}

// Dump returns every row of the given tables as text, one line per row,
// rows sorted, tables in the order given: a full, order-independent
// picture of a read model for comparing two builds.
func Dump(ctx context.Context, db *sql.DB, tables ...string) (string, error) {
	var b strings.Builder
	for _, t := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM `+t)
		if err != nil {
			return "", fmt.Errorf("projections: dump %s: %w", t, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return "", err
			}
			var l strings.Builder
			for i, v := range vals {
				if i > 0 {
					l.WriteByte('|')
				}
				switch x := v.(type) {
				case []byte:
					l.WriteString(string(x))
				case nil:
					l.WriteString("NULL")
				default:
					fmt.Fprint(&l, x)
				}
			}
			lines = append(lines, l.String())
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return "", err
		}
		sortStrings(lines)
		fmt.Fprintf(&b, "== %s (%d rows) %s\n", t, len(lines), strings.Join(cols, ","))
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String(), nil
}
