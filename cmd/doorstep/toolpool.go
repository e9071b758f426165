package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// toolPool is the one PostgreSQL pool of a subcommand that opens Doorstep's
// stores one at a time (token, user, keys) rather than a whole runtime:
// opened here, in cmd, on first use by openPool (as a server's is by
// openPostgresRuntime), passed to each store, and closed after them
// (issue 12 item 3, decision 0066). The stores' own Open… helpers, which
// open a pool inside the library, are for other programs.
type toolPool struct {
	url  string
	pool *pgxpool.Pool
}

// get returns the pool, opening it for url and schema the first time.
func (t *toolPool) get(ctx context.Context, url, schema string) (*pgxpool.Pool, error) {
	if t.pool != nil {
		if url != t.url {
			return nil, fmt.Errorf("one command, two PostgreSQL servers (%s and %s) / 一条命令不能连接两个 PostgreSQL 服务器", redactURL(t.url), redactURL(url))
		}
		return t.pool, nil
	}
	pool, err := openPool(ctx, url, schema)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL %s: %w / 无法连接 PostgreSQL", redactURL(url), err)
	}
	t.url, t.pool = url, pool
	return pool, nil
}

// Close closes the pool, if it was opened; close the stores on it first.
func (t *toolPool) Close() {
	if t.pool != nil {
		t.pool.Close()
		t.pool = nil
	}
}
