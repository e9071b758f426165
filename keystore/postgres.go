package keystore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/internal/migrate"
)

// PostgresStore is a KeyStore in a PostgreSQL table, for several `doorstep
// serve` nodes that share one database: a key created by one node is the key
// every node uses, so a field sealed on one node opens on all of them, and an
// erasure made on one node is seen by all (a Vault caches keys; set
// Config.CacheTTL to bound how long another node's erasure can go unseen).
//
// The table is <schema>.data_keys, one row per household:
//
//	household_id text PRIMARY KEY
//	key_id       text NOT NULL         -- '' for a household erased before it had a key
//	secret       bytea                 -- KeySize bytes; NULL once erased
//	created_at   timestamptz NOT NULL  -- 0001-01-01 UTC for a household erased before it had a key
//	erased_at    timestamptz           -- NULL until erased
//
// Times are stored and returned in UTC at microsecond precision (what
// timestamptz keeps): Create truncates CreatedAt and ErasedAt, Erase
// truncates erasedAt, so Get returns exactly what was stored.
//
// Erasure sets secret to NULL. Like the FileStore's overwrite, this is the
// best the program can do: until VACUUM reclaims the old row version, and
// for as long as WAL archives, replicas' WAL and base backups taken before
// the erasure are kept, the old secret still exists outside this table.
// Keep such copies no longer than the erasure period allows (see
// docs/decisions/0012-*.md).
//
// Safe for concurrent use, and by several processes at once.
type PostgresStore struct {
	pool     *pgxpool.Pool
	ownsPool bool

	getSQL, createSQL, eraseSQL, liveSQL, rewrapSQL string
}

var _ KeyStore = (*PostgresStore)(nil)

// DefaultPostgresSchema is the schema OpenPostgres uses when given none.
const DefaultPostgresSchema = "doorstep"

// schemaName is what OpenPostgres accepts as a schema name: a plain,
// lower-case, unquoted SQL identifier.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// pgMaxIdentifier is PostgreSQL's identifier length limit (NAMEDATALEN-1);
// longer names would be silently truncated.
const pgMaxIdentifier = 63

// OpenPostgres connects to the PostgreSQL database at connString (a URL or
// key=value string as pgx accepts) with a pool of its own, closed by Close,
// and continues as NewPostgres.
func OpenPostgres(ctx context.Context, connString, schema string) (*PostgresStore, error) {
	if err := validateSchemaName(orDefault(schema)); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// pgx's parse errors redact the password.
		return nil, fmt.Errorf("keystore: parse PostgreSQL connection string: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("keystore: connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("keystore: connect to PostgreSQL: %w", err)
	}
	s, err := NewPostgres(ctx, pool, schema)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownsPool = true
	return s, nil
}

// NewPostgres keeps keys in pool's database (the process's one pool; Close
// leaves it open) and creates, if they do not exist yet, the schema
// (default "doorstep") and its data_keys table through internal/migrate
// (owner "keystore"), so several processes may open the same schema at
// once. The schema name must be a plain SQL identifier: a lower-case letter
// or underscore, then lower-case letters, digits or underscores, at most 63
// bytes.
func NewPostgres(ctx context.Context, pool *pgxpool.Pool, schema string) (*PostgresStore, error) {
	schema = orDefault(schema)
	if err := validateSchemaName(schema); err != nil {
		return nil, err
	}
	if err := migrate.Up(ctx, migrate.Postgres(pool, schema), Migrations()); err != nil {
		return nil, fmt.Errorf("keystore: create key table %s.data_keys in PostgreSQL: %w", schema, err)
	}
	t := pgx.Identifier{schema, "data_keys"}.Sanitize()
	return &PostgresStore{
		pool:   pool,
		getSQL: `SELECT key_id, secret, created_at, erased_at, wrapped, kek_id FROM ` + t + ` WHERE household_id = $1`,
		createSQL: `INSERT INTO ` + t + ` (household_id, key_id, secret, created_at, erased_at, wrapped, kek_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (household_id) DO NOTHING`,
		liveSQL: `SELECT household_id, key_id, secret, created_at, wrapped, kek_id FROM ` + t + ` WHERE erased_at IS NULL`,
		// Compare and swap: a key erased or rewrapped meanwhile is left.
		rewrapSQL: `UPDATE ` + t + ` SET secret = $2, wrapped = $3, kek_id = $4
			WHERE household_id = $1 AND erased_at IS NULL AND secret IS NOT DISTINCT FROM $5 AND wrapped IS NOT DISTINCT FROM $6`,
		// A tombstone for a household without a key, or the key's row with
		// the secret dropped; a second erasure keeps the earliest time
		// (LEAST ignores the NULL of a row not yet erased).
		eraseSQL: `INSERT INTO ` + t + ` AS k (household_id, key_id, secret, created_at, erased_at)
			VALUES ($1, '', NULL, $2, $3)
			ON CONFLICT (household_id) DO UPDATE
			SET secret = NULL, wrapped = NULL, erased_at = LEAST(k.erased_at, EXCLUDED.erased_at)`,
	}, nil
}

func validateSchemaName(schema string) error {
	if !schemaName.MatchString(schema) || len(schema) > pgMaxIdentifier {
		return fmt.Errorf("keystore: PostgreSQL schema name %q is not a plain SQL identifier: use a lower-case letter or _ followed by lower-case letters, digits or _ (at most %d bytes)", schema, pgMaxIdentifier)
	}
	return nil
}

func orDefault(schema string) string {
	if schema == "" {
		return DefaultPostgresSchema
	}
	return schema
}

// Migrations returns the key store's steps, for internal/migrate (owner
// "keystore"). Step 1 keeps IF NOT EXISTS: schemas made before the steps
// were recorded already hold the table. Append; never edit a shipped step.
func Migrations() migrate.Set {
	// The CHECK keeps the invariant of crypto-shredding in the database
	// itself: a live key has a whole secret, an erased one has none.
	return migrate.Set{Owner: "keystore", Steps: []string{`CREATE TABLE IF NOT EXISTS {schema}data_keys (
		household_id text PRIMARY KEY,
		key_id       text NOT NULL,
		secret       bytea,
		created_at   timestamptz NOT NULL,
		erased_at    timestamptz,
		CONSTRAINT data_keys_secret_check CHECK (
			(erased_at IS NULL AND octet_length(secret) = ` + fmt.Sprint(KeySize) + `)
			OR (erased_at IS NOT NULL AND secret IS NULL))
	)`,
		// Keys at rest (decision 0067): a live key is either in clear (a
		// store from before KEKs, until rewrapped) or wrapped under a KEK.
		`ALTER TABLE {schema}data_keys
			ADD COLUMN wrapped bytea,
			ADD COLUMN kek_id text NOT NULL DEFAULT '',
			DROP CONSTRAINT IF EXISTS data_keys_secret_check,
			DROP CONSTRAINT IF EXISTS data_keys_check,
			ADD CONSTRAINT data_keys_material_check CHECK (
				(erased_at IS NULL AND ((octet_length(secret) = ` + fmt.Sprint(KeySize) + ` AND wrapped IS NULL)
					OR (secret IS NULL AND octet_length(wrapped) BETWEEN 1 AND ` + fmt.Sprint(maxWrapped) + ` AND kek_id <> '')))
				OR (erased_at IS NOT NULL AND secret IS NULL AND wrapped IS NULL))`,
	}}
}

// Close closes the connection pool if OpenPostgres opened it. Calling it
// again does nothing.
func (s *PostgresStore) Close() {
	if s.ownsPool {
		s.pool.Close()
	}
}

// pgTime is the form of t that is stored and read back: UTC, microseconds.
func pgTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Get implements KeyStore.
func (s *PostgresStore) Get(ctx context.Context, householdID string) (Key, error) {
	var (
		k      = Key{HouseholdID: householdID}
		erased *time.Time
	)
	err := s.pool.QueryRow(ctx, s.getSQL, householdID).Scan(&k.KeyID, &k.Secret, &k.CreatedAt, &erased, &k.Wrapped, &k.KEKID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, ErrNoKey
	}
	if err != nil {
		return Key{}, fmt.Errorf("keystore: read key of household %s from PostgreSQL: %w", householdID, err)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if erased != nil {
		k.ErasedAt = erased.UTC()
		k.Secret, k.Wrapped = nil, nil
	}
	if err := validStored(k); err != nil {
		return Key{}, fmt.Errorf("keystore: key row of household %s in PostgreSQL: %w", householdID, err)
	}
	return k, nil
}

// Create implements KeyStore with INSERT ... ON CONFLICT DO NOTHING, so of
// several creators, on any number of nodes, exactly one wins and the others
// get ErrKeyExists. The key is durable when the INSERT commits, that is when
// Create returns nil (with the server's default synchronous_commit).
func (s *PostgresStore) Create(ctx context.Context, k Key) error {
	if k.HouseholdID == "" {
		return errors.New("keystore: store key: the household id is empty")
	}
	var secret, wrapped []byte
	var erased *time.Time
	if k.Erased() {
		t := pgTime(k.ErasedAt)
		erased = &t
	} else {
		if err := validStored(k); err != nil {
			return fmt.Errorf("keystore: store key of household %s: %w", k.HouseholdID, err)
		}
		secret, wrapped = k.Secret, k.Wrapped
	}
	kekID := k.KEKID
	if wrapped == nil {
		kekID = ""
	}
	tag, err := s.pool.Exec(ctx, s.createSQL, k.HouseholdID, k.KeyID, secret, pgTime(k.CreatedAt), erased, wrapped, kekID)
	if err != nil {
		return fmt.Errorf("keystore: store key of household %s in PostgreSQL: %w", k.HouseholdID, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrKeyExists
	}
	return nil
}

// Erase implements KeyStore with one upsert: it drops the secret of the
// household's row, or inserts a tombstone (empty key id) when the household
// never had a key. Erasing an erased household keeps the earliest erasure
// time.
func (s *PostgresStore) Erase(ctx context.Context, householdID string, erasedAt time.Time) error {
	if householdID == "" {
		return errors.New("keystore: erase key: the household id is empty")
	}
	if erasedAt.IsZero() {
		return fmt.Errorf("keystore: erase key of household %s: the erasure time is zero", householdID)
	}
	if _, err := s.pool.Exec(ctx, s.eraseSQL, householdID, time.Time{}, pgTime(erasedAt)); err != nil {
		return fmt.Errorf("keystore: erase key of household %s in PostgreSQL: %w", householdID, err)
	}
	return nil
}

// Rewrap implements Rewrapper: every live row is read, and each that f
// changes is updated if it is still as read (not erased, not rewrapped by
// another node meanwhile).
func (s *PostgresStore) Rewrap(ctx context.Context, f func(Key) (Key, bool, error)) (int, error) {
	rows, err := s.pool.Query(ctx, s.liveSQL)
	if err != nil {
		return 0, fmt.Errorf("keystore: rewrap: read keys from PostgreSQL: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Key, error) {
		var k Key
		err := r.Scan(&k.HouseholdID, &k.KeyID, &k.Secret, &k.CreatedAt, &k.Wrapped, &k.KEKID)
		k.CreatedAt = k.CreatedAt.UTC()
		return k, err
	})
	if err != nil {
		return 0, fmt.Errorf("keystore: rewrap: read keys from PostgreSQL: %w", err)
	}
	n := 0
	for _, k := range keys {
		nk, changed, err := f(k)
		if err != nil {
			return n, err
		}
		if !changed {
			continue
		}
		if err := validStored(nk); err != nil {
			return n, fmt.Errorf("keystore: rewrap household %s: %w", k.HouseholdID, err)
		}
		kekID := nk.KEKID
		if nk.Wrapped == nil {
			kekID = ""
		}
		tag, err := s.pool.Exec(ctx, s.rewrapSQL, k.HouseholdID, nk.Secret, nk.Wrapped, kekID, k.Secret, k.Wrapped)
		if err != nil {
			return n, fmt.Errorf("keystore: rewrap household %s in PostgreSQL: %w", k.HouseholdID, err)
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}
