package webhook

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/migrate"
	"github.com/doorstep/doorstep/projections"
)

// Bounds on what a subscription may say (decision 0090).
const (
	MaxURLBytes       = 2048 // a target URL
	MaxFilterItems    = 32   // event types, communities
	MaxFilterItemLen  = 64   // one event type or community
	MaxSubscriptions  = 64   // subscriptions in all (each has one delivery in flight at most)
	MaxDeliveriesList = 500  // deliveries one request lists
	// KeepDelivered is how many delivered entries the delivery log keeps per
	// subscription (the newest); parked and retrying entries are all kept.
	KeepDelivered = 1000
	secretBytes   = 24
)

// Delivery statuses in the log.
const (
	StatusDelivered = "delivered" // the receiver answered 2xx
	StatusRetrying  = "retrying"  // failed; the next attempt is at NextAt
	StatusParked    = "parked"    // the retry budget is spent; replay it by hand
	StatusReplayed  = "replayed"  // parked, then delivered by a replay
)

// Subscription is one webhook: where to post, which events, and how far it
// has got (its checkpoint). The secret is never part of it: it is shown
// once, when the subscription is created.
type Subscription struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Types       []string  `json:"types"`       // event types (e.g. visit.recorded); empty: every type
	Communities []string  `json:"communities"` // communities; empty: every event, with or without one
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	// Grant, when present, lets the deliveries carry sealed fields opened
	// (decision 0106); absent, they carry markers.
	Grant *Grant `json:"grant,omitempty"`
	// Position is the checkpoint: every matching event up to it was
	// delivered or parked. Events counts the events of the log up to it.
	Position string `json:"position"`
	Events   int64  `json:"events"`

	pos eventstore.Position
}

// Grant is a subscription's grant of the sealed fields: for one purpose
// from the fixed list (identity.Purposes), why, by whom, when. Granting and
// withdrawing are recorded in the chained record of reveals.
type Grant struct {
	Purpose string    `json:"purpose"`
	Reason  string    `json:"reason"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// Match reports whether ev is for this subscription.
func (s *Subscription) Match(ev *eventstore.Event) bool {
	if len(s.Types) > 0 && !slices.Contains(s.Types, ev.Type) {
		return false
	}
	if len(s.Communities) > 0 && !slices.Contains(s.Communities, ev.Metadata.Community) {
		return false
	}
	return true
}

// Delivery is one entry of a subscription's delivery log: one event, its
// attempts and how the last one went.
type Delivery struct {
	Subscription string    `json:"subscription"`
	EventID      string    `json:"event_id"` // also the webhook-id header
	Type         string    `json:"type"`     // the event type
	Position     string    `json:"position"`
	Status       string    `json:"status"` // delivered, retrying, parked, replayed
	Attempts     int       `json:"attempts"`
	LastError    string    `json:"last_error,omitempty"`
	LastCode     int       `json:"last_code,omitempty"`      // HTTP status of the last answer; 0: none
	LatencyMS    float64   `json:"latency_ms"`               // duration of the last attempt
	FirstAt      time.Time `json:"first_attempt_at"`         // when the first attempt was made
	LastAt       time.Time `json:"last_attempt_at"`          // when the last one was
	NextAt       time.Time `json:"next_attempt_at,omitzero"` // retrying: when the next one is due

	stream  string
	version uint64
	seq     int64
	pos     eventstore.Position
}

// Request is what an administrator gives to create a subscription.
type Request struct {
	URL         string   `json:"url"`
	Types       []string `json:"types,omitempty"`
	Communities []string `json:"communities,omitempty"`
	// From says where the deliveries start: "now" (default: the events
	// recorded from now on) or "start" (the whole log, oldest first).
	From string `json:"from,omitempty"`
}

// Migrations is the webhook tables' migration set (owner "webhook"), in
// the read-model database beside relay_checkpoints.
func Migrations() migrate.Set {
	return migrate.Set{Owner: "webhook", Steps: []string{
		`CREATE TABLE IF NOT EXISTS webhook_subscriptions (
			id          TEXT PRIMARY KEY,
			url         TEXT NOT NULL,
			types       TEXT NOT NULL,
			communities TEXT NOT NULL,
			secret      TEXT NOT NULL,
			created_at  BIGINT NOT NULL,
			created_by  TEXT NOT NULL,
			hi          BIGINT NOT NULL,
			lo          BIGINT NOT NULL,
			events      BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS webhook_deliveries (
			sub        TEXT NOT NULL,
			event_id   TEXT NOT NULL,
			stream     TEXT NOT NULL,
			version    BIGINT NOT NULL,
			type       TEXT NOT NULL,
			hi         BIGINT NOT NULL,
			lo         BIGINT NOT NULL,
			seq        BIGINT NOT NULL,
			status     TEXT NOT NULL,
			attempts   INTEGER NOT NULL,
			last_error TEXT NOT NULL,
			last_code  INTEGER NOT NULL,
			latency_us BIGINT NOT NULL,
			first_at   BIGINT NOT NULL,
			last_at    BIGINT NOT NULL,
			next_at    BIGINT NOT NULL,
			PRIMARY KEY (sub, event_id))`,
		`CREATE INDEX IF NOT EXISTS webhook_deliveries_seq ON webhook_deliveries (sub, seq)`,
		// The grant of sealed fields (decision 0106): empty purpose, none.
		`ALTER TABLE webhook_subscriptions ADD COLUMN grant_purpose TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE webhook_subscriptions ADD COLUMN grant_reason TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE webhook_subscriptions ADD COLUMN grant_by TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE webhook_subscriptions ADD COLUMN grant_at BIGINT NOT NULL DEFAULT 0`,
	}}
}

// Init creates or migrates the webhook tables in db.
func Init(ctx context.Context, db *sql.DB, d projections.Dialect) error {
	if err := projections.Migrate(ctx, db, d, Migrations()); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

// Store keeps subscriptions and their delivery logs in the read-model
// database. It is safe for concurrent use.
type Store struct {
	db  *sql.DB
	d   projections.Dialect
	now func() time.Time
	box SecretWrapper // nil: secrets in clear (tests and tools)
}

// SecretWrapper wraps the signing secrets at rest: the binary's KEK ring
// (keystore.KEKRing, decision 0126). A wrapped secret is bound to its
// subscription's id.
type SecretWrapper interface {
	WrapSecret(name string, secret []byte) (string, error)
	UnwrapSecret(name, text string) ([]byte, error)
	// SecretKEKID says under which KEK a stored value is wrapped; ok is
	// false for a secret kept in clear (written before wrapping).
	SecretKEKID(text string) (id string, ok bool)
	CurrentID() string
}

// WithSecrets makes the store wrap the secrets it writes with box and
// unwrap the ones it reads.
func (s *Store) WithSecrets(box SecretWrapper) *Store { s.box = box; return s }

// NewStore returns a store on db (call Init first).
func NewStore(db *sql.DB, d projections.Dialect, now func() time.Time) *Store {
	if d == nil {
		d = projections.SQLite
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, d: d, now: now}
}

func invalid(code, field, en, zh string) error {
	return &domain.Error{Kind: domain.ErrInvalid, Code: code, Field: field, Message: en, MessageZH: zh}
}

// ErrNotFound is the kind of the errors for an unknown subscription or
// delivery (a *domain.Error with Kind domain.ErrNotFound).
var ErrNotFound = domain.ErrNotFound

func notFound(code, en, zh string) error {
	return &domain.Error{Kind: domain.ErrNotFound, Code: code, Field: "id", Message: en, MessageZH: zh}
}

var filterRE = regexp.MustCompile(`^[\p{L}\p{N}_.:-]+$`)

// ValidateURL checks a target: http or https, a host, no credentials, no
// fragment, at most MaxURLBytes. Redirects are never followed, so the URL
// is where every delivery goes.
func ValidateURL(raw string) error {
	if raw == "" || len(raw) > MaxURLBytes {
		return invalid("webhook_url_invalid", "url",
			fmt.Sprintf("give the receiver's URL (http:// or https://, at most %d bytes)", MaxURLBytes),
			fmt.Sprintf("请提供接收方地址（以 “http://” 或 “https://” 开头，最多 %d 字节）", MaxURLBytes))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return invalid("webhook_url_invalid", "url", "the URL must be absolute, with scheme http or https and a host, e.g. https://receiver.example.org/doorstep",
			"地址须为带主机名的 HTTP 或 HTTPS 绝对地址，例如 “https://receiver.example.org/doorstep”")
	case u.User != nil:
		return invalid("webhook_url_credentials", "url", "the URL must not carry credentials (user:password@); the signature authenticates deliveries",
			"地址中不得包含用户名或密码；投递由签名认证")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalid("webhook_url_invalid", "url", "the URL must not have a fragment (#…)", "地址不得包含片段（#…）")
	}
	return nil
}

func validFilter(field string, items []string) ([]string, error) {
	if len(items) > MaxFilterItems {
		return nil, invalid("webhook_filter_invalid", field, fmt.Sprintf("at most %d %s", MaxFilterItems, field), fmt.Sprintf("%s 最多 %d 项", field, MaxFilterItems))
	}
	out := []string{}
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" || len(it) > MaxFilterItemLen || !filterRE.MatchString(it) || strings.Contains(it, ",") {
			return nil, invalid("webhook_filter_invalid", field,
				fmt.Sprintf("each of %s must be 1–%d letters, digits, '_', '.', ':' or '-'", field, MaxFilterItemLen),
				fmt.Sprintf("%s 的每一项须为 1–%d 个字母、数字或 _ . : -", field, MaxFilterItemLen))
		}
		if !slices.Contains(out, it) {
			out = append(out, it)
		}
	}
	slices.Sort(out)
	return out, nil
}

// NewSecret returns a fresh signing secret in the Standard Webhooks form
// "whsec_" + base64 of 24 random bytes.
func NewSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "wh_" + hex.EncodeToString(b)
}

// Create validates req and records a subscription starting at the head of
// the log (it receives the events recorded from now on), returning it with
// its secret, which is never shown again.
func (s *Store) Create(ctx context.Context, req Request, by string, head eventstore.Position, headEvents int64) (Subscription, string, error) {
	if err := ValidateURL(req.URL); err != nil {
		return Subscription{}, "", err
	}
	types, err := validFilter("types", req.Types)
	if err != nil {
		return Subscription{}, "", err
	}
	comms, err := validFilter("communities", req.Communities)
	if err != nil {
		return Subscription{}, "", err
	}
	switch req.From {
	case "", "now":
	case "start":
		head, headEvents = eventstore.Position{}, 0
	default:
		q := domain.Clip(req.From, domain.MaxEchoBytes)
		return Subscription{}, "", invalid("webhook_from_invalid", "from", fmt.Sprintf("from %q must be \"now\" or \"start\"", q),
			fmt.Sprintf("“from” 的值 %q 无效，应为 “now” 或 “start”", q))
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_subscriptions`).Scan(&n); err != nil {
		return Subscription{}, "", fmt.Errorf("webhook: count the subscriptions: %w", err)
	}
	if n >= MaxSubscriptions {
		return Subscription{}, "", &domain.Error{Kind: domain.ErrConflict, Code: "webhook_limit", Field: "url",
			Message:   fmt.Sprintf("there are already %d webhook subscriptions, the most allowed; delete one first", MaxSubscriptions),
			MessageZH: fmt.Sprintf("已有 %d 个回调订阅，达到上限；请先删除一个", MaxSubscriptions)}
	}
	sub := Subscription{ID: newID(), URL: req.URL, Types: types, Communities: comms, CreatedAt: s.now().UTC().Truncate(time.Millisecond),
		CreatedBy: by, pos: head, Position: head.String(), Events: headEvents}
	secret := NewSecret()
	stored := secret
	if s.box != nil {
		if stored, err = s.box.WrapSecret(sub.ID, []byte(secret)); err != nil {
			return Subscription{}, "", fmt.Errorf("webhook: wrap the secret: %w", err)
		}
	}
	_, err = s.db.ExecContext(ctx, s.d.Rebind(`INSERT INTO webhook_subscriptions (id, url, types, communities, secret, created_at, created_by, hi, lo, events)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), sub.ID, sub.URL, strings.Join(types, ","), strings.Join(comms, ","), stored,
		sub.CreatedAt.UnixNano(), by, int64(head.Hi), int64(head.Lo), headEvents)
	if err != nil {
		return Subscription{}, "", fmt.Errorf("webhook: record the subscription: %w", err)
	}
	return sub, secret, nil
}

const subCols = `id, url, types, communities, created_at, created_by, hi, lo, events, grant_purpose, grant_reason, grant_by, grant_at`

func scanSub(sc interface{ Scan(...any) error }) (Subscription, error) {
	var s Subscription
	var types, comms string
	var at, hi, lo, gat int64
	var g Grant
	if err := sc.Scan(&s.ID, &s.URL, &types, &comms, &at, &s.CreatedBy, &hi, &lo, &s.Events, &g.Purpose, &g.Reason, &g.By, &gat); err != nil {
		return s, err
	}
	if g.Purpose != "" {
		g.At = time.Unix(0, gat).UTC()
		s.Grant = &g
	}
	s.Types, s.Communities = split(types), split(comms)
	s.CreatedAt = time.Unix(0, at).UTC()
	s.pos = eventstore.Position{Hi: uint64(hi), Lo: uint64(lo)}
	s.Position = s.pos.String()
	return s, nil
}

func split(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// List returns every subscription, oldest first.
func (s *Store) List(ctx context.Context) ([]Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subCols+` FROM webhook_subscriptions ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("webhook: list the subscriptions: %w", err)
	}
	defer rows.Close()
	out := []Subscription{}
	for rows.Next() {
		sub, err := scanSub(rows)
		if err != nil {
			return nil, fmt.Errorf("webhook: list the subscriptions: %w", err)
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// Get returns one subscription.
func (s *Store) Get(ctx context.Context, id string) (Subscription, error) {
	sub, err := scanSub(s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT `+subCols+` FROM webhook_subscriptions WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		q := domain.Clip(id, domain.MaxEchoBytes)
		return sub, notFound("webhook_not_found", fmt.Sprintf("there is no webhook subscription %q", q), fmt.Sprintf("不存在回调订阅 %q", q))
	}
	if err != nil {
		return sub, fmt.Errorf("webhook: read subscription %s: %w", id, err)
	}
	return sub, nil
}

// setGrant records g as subscription id's grant (nil: none).
func (s *Store) setGrant(ctx context.Context, id string, g *Grant) error {
	var x Grant
	var at int64
	if g != nil {
		x, at = *g, g.At.UnixNano()
	}
	res, err := s.db.ExecContext(ctx, s.d.Rebind(`UPDATE webhook_subscriptions SET grant_purpose = ?, grant_reason = ?, grant_by = ?, grant_at = ? WHERE id = ?`),
		x.Purpose, x.Reason, x.By, at, id)
	if err != nil {
		return fmt.Errorf("webhook: record the grant of %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		_, err := s.Get(ctx, id)
		return err
	}
	return nil
}

// Secret returns a subscription's signing secret, unwrapped.
func (s *Store) Secret(ctx context.Context, id string) (string, error) {
	var sec string
	if err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT secret FROM webhook_subscriptions WHERE id = ?`), id).Scan(&sec); err != nil {
		return "", fmt.Errorf("webhook: read the secret of %s: %w", id, err)
	}
	return s.open(id, sec)
}

// open returns the secret a stored value holds: unwrapped, or as it is
// when it was written in clear (before wrapping; RewrapSecrets upgrades it).
func (s *Store) open(id, stored string) (string, error) {
	if s.box == nil {
		if strings.HasPrefix(stored, "whsec_") {
			return stored, nil
		}
		return "", fmt.Errorf("webhook: the secret of %s is wrapped with a key-encrypting key and this process has none; start it with the deployment's -kek-file", id)
	}
	if _, ok := s.box.SecretKEKID(stored); !ok {
		return stored, nil
	}
	b, err := s.box.UnwrapSecret(id, stored)
	if err != nil {
		return "", fmt.Errorf("webhook: %w", err)
	}
	return string(b), nil
}

// RewrapSecrets wraps under the current KEK every secret kept in clear or
// under an older KEK (after an upgrade, or a rotation started with
// -kek-old-file), returning how many it rewrote. Each row is rewritten only
// if nobody changed it meanwhile.
func (s *Store) RewrapSecrets(ctx context.Context) (int, error) {
	if s.box == nil {
		return 0, nil
	}
	type row struct{ id, stored string }
	var todo []row
	rows, err := s.db.QueryContext(ctx, `SELECT id, secret FROM webhook_subscriptions`)
	if err != nil {
		return 0, fmt.Errorf("webhook: read the secrets: %w", err)
	}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.stored); err != nil {
			rows.Close()
			return 0, fmt.Errorf("webhook: read the secrets: %w", err)
		}
		if kid, ok := s.box.SecretKEKID(r.stored); !ok || kid != s.box.CurrentID() {
			todo = append(todo, r)
		}
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("webhook: read the secrets: %w", err)
	}
	n := 0
	for _, r := range todo {
		sec, err := s.open(r.id, r.stored)
		if err != nil {
			return n, err
		}
		w, err := s.box.WrapSecret(r.id, []byte(sec))
		if err != nil {
			return n, fmt.Errorf("webhook: wrap the secret of %s: %w", r.id, err)
		}
		res, err := s.db.ExecContext(ctx, s.d.Rebind(`UPDATE webhook_subscriptions SET secret = ? WHERE id = ? AND secret = ?`), w, r.id, r.stored)
		if err != nil {
			return n, fmt.Errorf("webhook: rewrite the secret of %s: %w", r.id, err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			n++
		}
	}
	return n, nil
}

// Delete removes a subscription and its delivery log.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("webhook: delete %s: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, q := range []string{`DELETE FROM webhook_deliveries WHERE sub = ?`, `DELETE FROM webhook_subscriptions WHERE id = ?`} {
		if _, err := tx.ExecContext(ctx, s.d.Rebind(q), id); err != nil {
			return fmt.Errorf("webhook: delete %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("webhook: delete %s: %w", id, err)
	}
	return nil
}

const delCols = `sub, event_id, stream, version, type, hi, lo, seq, status, attempts, last_error, last_code, latency_us, first_at, last_at, next_at`

func scanDelivery(sc interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var hi, lo, lat, first, last, next int64
	if err := sc.Scan(&d.Subscription, &d.EventID, &d.stream, &d.version, &d.Type, &hi, &lo, &d.seq, &d.Status, &d.Attempts,
		&d.LastError, &d.LastCode, &lat, &first, &last, &next); err != nil {
		return d, err
	}
	d.pos = eventstore.Position{Hi: uint64(hi), Lo: uint64(lo)}
	d.Position = d.pos.String()
	d.LatencyMS = float64(lat) / 1000
	d.FirstAt, d.LastAt = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	if next != 0 {
		d.NextAt = time.Unix(0, next).UTC()
	}
	return d, nil
}

// Deliveries lists a subscription's delivery log, newest first, at most
// limit entries (1…MaxDeliveriesList), only those with status when given.
func (s *Store) Deliveries(ctx context.Context, id, status string, limit int) ([]Delivery, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	switch status {
	case "", StatusDelivered, StatusRetrying, StatusParked, StatusReplayed:
	default:
		q := domain.Clip(status, domain.MaxEchoBytes)
		return nil, invalid("webhook_status_invalid", "status", fmt.Sprintf("status %q is not one of delivered, retrying, parked, replayed", q),
			fmt.Sprintf("状态 %q 无效，应为 “delivered”、“retrying”、“parked” 或 “replayed”", q))
	}
	if limit <= 0 || limit > MaxDeliveriesList {
		limit = MaxDeliveriesList
	}
	q := `SELECT ` + delCols + ` FROM webhook_deliveries WHERE sub = ?`
	args := []any{id}
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("webhook: read the deliveries of %s: %w", id, err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("webhook: read the deliveries of %s: %w", id, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *Store) delivery(ctx context.Context, id, eventID string) (Delivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT `+delCols+` FROM webhook_deliveries WHERE sub = ? AND event_id = ?`), id, eventID))
	if errors.Is(err, sql.ErrNoRows) {
		q := domain.Clip(eventID, domain.MaxEchoBytes)
		return d, notFound("webhook_delivery_not_found", fmt.Sprintf("subscription %s has no delivery of event %q", id, q),
			fmt.Sprintf("订阅 %s 没有事件 %q 的投递记录", id, q))
	}
	if err != nil {
		return d, fmt.Errorf("webhook: read delivery %s/%s: %w", id, eventID, err)
	}
	return d, nil
}

// upsert writes delivery entries and, when cp is not nil, the
// subscription's checkpoint, in one transaction; then it prunes the
// delivered entries beyond KeepDelivered.
func (s *Store) upsert(ctx context.Context, sub string, ds []Delivery, cp *eventstore.Position, events int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("webhook: write the delivery log of %s: %w", sub, err)
	}
	defer func() { _ = tx.Rollback() }()
	ins := s.d.Rebind(`INSERT INTO webhook_deliveries (` + delCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (sub, event_id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts, last_error = excluded.last_error,
		last_code = excluded.last_code, latency_us = excluded.latency_us, first_at = excluded.first_at, last_at = excluded.last_at, next_at = excluded.next_at`)
	var maxSeq int64
	for _, d := range ds {
		p := d.pos
		next := int64(0)
		if !d.NextAt.IsZero() {
			next = d.NextAt.UnixNano()
		}
		if _, err := tx.ExecContext(ctx, ins, sub, d.EventID, d.stream, int64(d.version), d.Type, int64(p.Hi), int64(p.Lo), d.seq, d.Status, d.Attempts,
			d.LastError, d.LastCode, int64(d.LatencyMS*1000), d.FirstAt.UnixNano(), d.LastAt.UnixNano(), next); err != nil {
			return fmt.Errorf("webhook: write the delivery log of %s: %w", sub, err)
		}
		maxSeq = max(maxSeq, d.seq)
	}
	if cp != nil {
		if _, err := tx.ExecContext(ctx, s.d.Rebind(`UPDATE webhook_subscriptions SET hi = ?, lo = ?, events = ? WHERE id = ?`),
			int64(cp.Hi), int64(cp.Lo), events, sub); err != nil {
			return fmt.Errorf("webhook: write the checkpoint of %s: %w", sub, err)
		}
	}
	if maxSeq > KeepDelivered {
		if _, err := tx.ExecContext(ctx, s.d.Rebind(`DELETE FROM webhook_deliveries WHERE sub = ? AND status = ? AND seq <= ?`),
			sub, StatusDelivered, maxSeq-KeepDelivered); err != nil {
			return fmt.Errorf("webhook: prune the delivery log of %s: %w", sub, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("webhook: write the delivery log of %s: %w", sub, err)
	}
	return nil
}
