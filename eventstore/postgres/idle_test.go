package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/eventstore/postgres"
)

// The store's sessions, and the read models' (BoundIdleTransactions), end
// a transaction left idle: the server accepts the setting under its name,
// and a value given in the connection string is kept.
func TestIdleTransactionsAreBounded(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ url, want string }{
		{testURL(), postgres.IdleTransactionTimeout},
		{testURL() + "&idle_in_transaction_session_timeout=250ms", "250ms"},
	} {
		cfg, err := pgx.ParseConfig(c.url)
		if err != nil {
			t.Fatal(err)
		}
		postgres.BoundIdleTransactions(cfg.RuntimeParams)
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("PostgreSQL is needed at %s: %v", testURL(), err)
		}
		var got string
		err = conn.QueryRow(ctx, `SHOW idle_in_transaction_session_timeout`).Scan(&got)
		conn.Close(ctx)
		if err != nil || got != c.want {
			t.Fatalf("idle_in_transaction_session_timeout = %q (%v), want %q", got, err, c.want)
		}
	}
}
