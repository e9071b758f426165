// Package cursor keeps named cursors of the event stream on the server:
// an integrator that follows GET /v1/events?consumer=NAME and acknowledges
// what it has stored (POST /v1/consumers/NAME/ack) resumes after a restart
// from the last acknowledged position, without keeping positions itself
// (issue 17, decision 0091). Cursors belong to the token's principal: two
// integrators may use the same name.
package cursor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/migrate"
	"github.com/doorstep/doorstep/projections"
)

// MaxPerOwner bounds the cursors one principal keeps.
const MaxPerOwner = 16

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

// Cursor is one named cursor.
type Cursor struct {
	Name      string    `json:"name"`
	Position  string    `json:"position"` // the last acknowledged position ("0": none yet)
	UpdatedAt time.Time `json:"updated_at"`
}

// Migrations is the cursor table's migration set (owner "cursor"), in the
// read-model database.
func Migrations() migrate.Set {
	return migrate.Set{Owner: "cursor", Steps: []string{`CREATE TABLE IF NOT EXISTS event_cursors (
		owner      TEXT NOT NULL,
		name       TEXT NOT NULL,
		hi         BIGINT NOT NULL,
		lo         BIGINT NOT NULL,
		updated_at BIGINT NOT NULL,
		PRIMARY KEY (owner, name))`}}
}

// Store keeps the cursors. Safe for concurrent use.
type Store struct {
	db  *sql.DB
	d   projections.Dialect
	log eventstore.Store
	now func() time.Time
}

// Open creates or migrates the table and returns the store; log bounds
// acknowledgements by its head.
func Open(ctx context.Context, db *sql.DB, d projections.Dialect, log eventstore.Store, now func() time.Time) (*Store, error) {
	if d == nil {
		d = projections.SQLite
	}
	if now == nil {
		now = time.Now
	}
	if err := projections.Migrate(ctx, db, d, Migrations()); err != nil {
		return nil, fmt.Errorf("cursor: %w", err)
	}
	return &Store{db: db, d: d, log: log, now: now}, nil
}

// ValidName checks a consumer name.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		q := domain.Clip(name, domain.MaxEchoBytes)
		return &domain.Error{Kind: domain.ErrInvalid, Code: "invalid_consumer", Field: "consumer",
			Message:   fmt.Sprintf("consumer name %q must be 1–40 lower-case letters, digits, '_' or '-', starting with a letter, e.g. warehouse", q),
			MessageZH: fmt.Sprintf("消费者名称 %q 须为 1–40 个小写字母、数字、“_” 或 “-”，以字母开头，例如 “warehouse”", q)}
	}
	return nil
}

// Get returns the last acknowledged position of owner's consumer name (zero
// when it has none yet).
func (s *Store) Get(ctx context.Context, owner, name string) (eventstore.Position, error) {
	if err := ValidName(name); err != nil {
		return eventstore.Position{}, err
	}
	var hi, lo int64
	err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT hi, lo FROM event_cursors WHERE owner = ? AND name = ?`), owner, name).Scan(&hi, &lo)
	if errors.Is(err, sql.ErrNoRows) {
		return eventstore.Position{}, nil
	}
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("cursor: read %s/%s: %w", owner, name, err)
	}
	return eventstore.Position{Hi: uint64(hi), Lo: uint64(lo)}, nil
}

// Ack records pos as owner's consumer name's position: the next stream
// with ?consumer=name starts after it. pos must not be past the head of
// the log; it may go back (to read again).
func (s *Store) Ack(ctx context.Context, owner, name string, pos eventstore.Position) (Cursor, error) {
	if err := ValidName(name); err != nil {
		return Cursor{}, err
	}
	head, err := s.log.Head(ctx)
	if err != nil {
		return Cursor{}, err
	}
	if head.Before(pos) {
		return Cursor{}, &domain.Error{Kind: domain.ErrInvalid, Code: "position_ahead", Field: "position",
			Message:   fmt.Sprintf("position %s is past the end of the log (%s); acknowledge the id of an event you received", pos, head),
			MessageZH: fmt.Sprintf("位置 %s 超出了日志末尾（%s）；请确认已收到的事件编号", pos, head)}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT COUNT(*) FROM event_cursors WHERE owner = ? AND name <> ?`), owner, name).Scan(&n); err != nil {
		return Cursor{}, fmt.Errorf("cursor: count: %w", err)
	}
	if n >= MaxPerOwner {
		return Cursor{}, &domain.Error{Kind: domain.ErrConflict, Code: "consumer_limit", Field: "consumer",
			Message:   fmt.Sprintf("this token already keeps %d named consumers, the most allowed", MaxPerOwner),
			MessageZH: fmt.Sprintf("此令牌已有 %d 个命名消费者，达到上限", MaxPerOwner)}
	}
	at := s.now().UTC().Truncate(time.Millisecond)
	_, err = s.db.ExecContext(ctx, s.d.Rebind(`INSERT INTO event_cursors (owner, name, hi, lo, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (owner, name) DO UPDATE SET hi = excluded.hi, lo = excluded.lo, updated_at = excluded.updated_at`),
		owner, name, int64(pos.Hi), int64(pos.Lo), at.UnixNano())
	if err != nil {
		return Cursor{}, fmt.Errorf("cursor: write %s/%s: %w", owner, name, err)
	}
	return Cursor{Name: name, Position: pos.String(), UpdatedAt: at}, nil
}

// List returns owner's cursors by name.
func (s *Store) List(ctx context.Context, owner string) ([]Cursor, error) {
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(`SELECT name, hi, lo, updated_at FROM event_cursors WHERE owner = ? ORDER BY name`), owner)
	if err != nil {
		return nil, fmt.Errorf("cursor: list: %w", err)
	}
	defer rows.Close()
	out := []Cursor{}
	for rows.Next() {
		var c Cursor
		var hi, lo, at int64
		if err := rows.Scan(&c.Name, &hi, &lo, &at); err != nil {
			return nil, fmt.Errorf("cursor: list: %w", err)
		}
		c.Position = eventstore.Position{Hi: uint64(hi), Lo: uint64(lo)}.String()
		c.UpdatedAt = time.Unix(0, at).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}
