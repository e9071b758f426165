package account

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the users file's driver

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/internal/migrate"
)

// FileName is the users database in a data directory (SQLite).
const FileName = "users.db"

// Lock-out: after MaxFailures consecutive failed sign-ins the account
// refuses every password for LockFor (OWASP Authentication Cheat Sheet).
// A success, or an administrator enabling the account, resets the count.
const (
	MaxFailures = 5
	LockFor     = 15 * time.Minute
)

// Bounds of what a user is made of.
const (
	MaxLoginLen    = 64
	MinPasswordLen = 10
	MaxPasswordLen = 256
	// signInsKept is how long the record of sign-ins keeps a row.
	signInsKept = 400 * 24 * time.Hour
	// maxHashing is how many password hashes run at once (each takes
	// DefaultParams.Memory): more sign-ins wait their turn.
	maxHashing = 2
)

// Kinds of this package's errors (besides the domain kinds ErrInvalid,
// ErrNotFound and ErrConflict its refusals carry).
var (
	// ErrSignInFailed: wrong login or password, or the account is
	// disabled, expired or locked. Which one is not said (a caller must
	// not learn which logins exist); the record of sign-ins says it.
	ErrSignInFailed = errors.New("sign-in failed")
)

// Outcomes recorded for a sign-in.
const (
	OutcomeOK           = "ok"
	OutcomeBadPassword  = "bad_password"
	OutcomeLocked       = "locked"
	OutcomeDisabled     = "disabled"
	OutcomeExpired      = "expired"
	OutcomeUnknownLogin = "unknown_login" // recorded without the login typed (it may be a password typed in the wrong box)
)

// User describes an account for its administrators (never the password or
// its hash).
type User struct {
	Login       string             `json:"login"`
	Principal   identity.Principal `json:"principal"`
	CreatedAt   time.Time          `json:"created_at"`
	CreatedBy   string             `json:"created_by,omitempty"`
	ExpiresAt   time.Time          `json:"expires_at,omitzero"`
	DisabledAt  time.Time          `json:"disabled_at,omitzero"`
	DisabledBy  string             `json:"disabled_by,omitempty"`
	Failures    int                `json:"failures"`
	LockedUntil time.Time          `json:"locked_until,omitzero"`
	LastSignIn  time.Time          `json:"last_sign_in,omitzero"`
	// State is "active", "disabled", "expired" or "locked" when listed.
	State string `json:"state"`
}

// SignIn is one recorded sign-in attempt.
type SignIn struct {
	Login   string    `json:"login,omitempty"`
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`
}

// Users is the set of accounts. Safe for concurrent use.
type Users struct {
	db      *sql.DB
	pfx     string // table prefix: `"schema".` on PostgreSQL, "" on SQLite
	pg      bool
	closeF  func()
	now     func() time.Time
	params  Params
	hashing chan struct{}
	dummy   string // a hash checked for unknown logins, so they take as long as known ones
}

// Migrations returns the users' steps for internal/migrate (owner
// "account"); the same SQL serves SQLite and PostgreSQL. Append; never
// edit a shipped step.
func Migrations() migrate.Set {
	return migrate.Set{Owner: "account", Steps: []string{
		`CREATE TABLE {schema}users (
			login        text PRIMARY KEY,
			principal    text NOT NULL,
			password     text NOT NULL,
			created_at   bigint NOT NULL,
			created_by   text NOT NULL DEFAULT '',
			expires_at   bigint NOT NULL DEFAULT 0,
			disabled_at  bigint NOT NULL DEFAULT 0,
			disabled_by  text NOT NULL DEFAULT '',
			failures     integer NOT NULL DEFAULT 0,
			locked_until bigint NOT NULL DEFAULT 0,
			last_sign_in bigint NOT NULL DEFAULT 0
		)`,
		`CREATE TABLE {schema}sign_ins (
			login   text NOT NULL,
			at      bigint NOT NULL,
			outcome text NOT NULL
		)`,
		`CREATE INDEX sign_ins_at ON {schema}sign_ins (at)`,
		`CREATE INDEX sign_ins_login ON {schema}sign_ins (login, at)`,
	}}
}

// OpenFile opens (creating it if missing) the users file at path.
func OpenFile(ctx context.Context, path string) (*Users, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("account: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(2)
	if err := migrate.Up(ctx, migrate.SQLite(db), Migrations()); err != nil {
		db.Close()
		return nil, fmt.Errorf("account: %s: %w", path, err)
	}
	return newUsers(db, "", false, func() { db.Close() })
}

// NewPostgres keeps the users in pool's database, in schema (the process's
// one pool; Close leaves it open).
func NewPostgres(ctx context.Context, pool *pgxpool.Pool, schema string) (*Users, error) {
	if err := migrate.Up(ctx, migrate.Postgres(pool, schema), Migrations()); err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	return newUsers(db, `"`+strings.ReplaceAll(schema, `"`, `""`)+`".`, true, func() { db.Close() })
}

// OpenPostgres connects to connString with a pool of its own (closed by
// Close) and continues as NewPostgres: for tools.
func OpenPostgres(ctx context.Context, connString, schema string) (*Users, error) {
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	u, err := NewPostgres(ctx, pool, schema)
	if err != nil {
		pool.Close()
		return nil, err
	}
	inner := u.closeF
	u.closeF = func() { inner(); pool.Close() }
	return u, nil
}

func newUsers(db *sql.DB, pfx string, pg bool, closeF func()) (*Users, error) {
	u := &Users{db: db, pfx: pfx, pg: pg, closeF: closeF, now: clock.Now, params: DefaultParams, hashing: make(chan struct{}, maxHashing)}
	d, err := hashPassword("no such user / 无此用户", u.params)
	if err != nil {
		closeF()
		return nil, err
	}
	u.dummy = d
	return u, nil
}

// WithClock makes u read time from now (tests); it returns u.
func (u *Users) WithClock(now func() time.Time) *Users { u.now = now; return u }

// Close releases the database handle (and the pool OpenPostgres made).
func (u *Users) Close() { u.closeF() }

// q writes a statement for the database: {p} becomes the table prefix and,
// on PostgreSQL, each ? a numbered parameter.
func (u *Users) q(s string) string {
	s = strings.ReplaceAll(s, "{p}", u.pfx)
	if !u.pg {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func invalid(code, field, en, zh string) *domain.Error {
	return &domain.Error{Kind: domain.ErrInvalid, Code: code, Field: field, Message: en, MessageZH: zh}
}

// CheckLogin checks a login name: 1–64 characters of a–z, 0–9, '.', '_'
// and '-', starting with a letter or a digit.
func CheckLogin(login string) error {
	ok := login != "" && len(login) <= MaxLoginLen
	for i, r := range login {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '.' || r == '_' || r == '-') && i > 0:
		default:
			ok = false
		}
	}
	if !ok {
		q := domain.Clip(login, domain.MaxEchoBytes)
		return invalid("invalid_login", "login",
			fmt.Sprintf("%q is not a valid login: use 1 to %d characters of a–z, 0–9, '.', '_' and '-', starting with a letter or a digit", q, MaxLoginLen),
			fmt.Sprintf("%q 不是有效的登录名：请使用 1 至 %d 个小写字母、数字、“.”、“_” 或 “-”，并以字母或数字开头", q, MaxLoginLen))
	}
	return nil
}

// CheckPassword checks a new password's length (NIST SP 800-63B: length,
// not composition rules).
func CheckPassword(pw string) error {
	n := len([]rune(pw))
	if n < MinPasswordLen || len(pw) > MaxPasswordLen {
		return invalid("invalid_password", "password",
			fmt.Sprintf("a password has at least %d characters and at most %d bytes; a phrase of several words is easiest to remember", MinPasswordLen, MaxPasswordLen),
			fmt.Sprintf("密码至少 %d 个字符、至多 %d 字节；由几个词组成的短语最容易记住", MinPasswordLen, MaxPasswordLen))
	}
	return nil
}

func notFound(login string) *domain.Error {
	q := domain.Clip(login, domain.MaxEchoBytes)
	return &domain.Error{Kind: domain.ErrNotFound, Code: "user_not_found", Field: "login",
		Message:   fmt.Sprintf("there is no user %q; list the users (`doorstep user list` or GET /v1/users)", q),
		MessageZH: fmt.Sprintf("不存在用户 %q；请列出用户（`doorstep user list` 或 GET /v1/users）", q)}
}

// hash runs one Argon2id computation at a time per slot of u.hashing.
func (u *Users) hash(ctx context.Context, f func()) error {
	select {
	case u.hashing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-u.hashing }()
	f()
	return nil
}

// Add creates the user login with principal p and password, created by
// by; expiresAt (zero: never) is when the account stops signing in.
func (u *Users) Add(ctx context.Context, login string, p identity.Principal, password, by string, expiresAt time.Time) error {
	if err := CheckLogin(login); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	var enc string
	var herr error
	if err := u.hash(ctx, func() { enc, herr = hashPassword(password, u.params) }); err != nil {
		return err
	}
	if herr != nil {
		return herr
	}
	pj, err := json.Marshal(p)
	if err != nil {
		return err
	}
	res, err := u.db.ExecContext(ctx, u.q(`INSERT INTO {p}users (login, principal, password, created_at, created_by, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (login) DO NOTHING`), login, string(pj), enc, ms(u.now()), by, ms(expiresAt))
	if err != nil {
		return fmt.Errorf("account: add %s: %w", login, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return &domain.Error{Kind: domain.ErrConflict, Code: "user_exists", Field: "login",
			Message:   fmt.Sprintf("the user %q already exists; choose another login", login),
			MessageZH: fmt.Sprintf("用户 %q 已存在；请换一个登录名", login)}
	}
	return nil
}

const userCols = `login, principal, created_at, created_by, expires_at, disabled_at, disabled_by, failures, locked_until, last_sign_in`

func (u *Users) scan(row interface{ Scan(...any) error }, pw *string) (User, error) {
	var x User
	var pj string
	var created, expires, disabled, locked, last int64
	dest := []any{&x.Login, &pj, &created, &x.CreatedBy, &expires, &disabled, &x.DisabledBy, &x.Failures, &locked, &last}
	if pw != nil {
		dest = append(dest, pw)
	}
	if err := row.Scan(dest...); err != nil {
		return User{}, err
	}
	if err := json.Unmarshal([]byte(pj), &x.Principal); err != nil {
		return User{}, fmt.Errorf("account: the principal of %s is damaged: %w", x.Login, err)
	}
	x.CreatedAt, x.ExpiresAt, x.DisabledAt, x.LockedUntil, x.LastSignIn = fromMS(created), fromMS(expires), fromMS(disabled), fromMS(locked), fromMS(last)
	x.State = x.state(u.now())
	return x, nil
}

func (x User) state(now time.Time) string {
	switch {
	case !x.DisabledAt.IsZero():
		return "disabled"
	case !x.ExpiresAt.IsZero() && !now.Before(x.ExpiresAt):
		return "expired"
	case now.Before(x.LockedUntil):
		return "locked"
	}
	return "active"
}

// List returns every user, by login.
func (u *Users) List(ctx context.Context) ([]User, error) {
	rows, err := u.db.QueryContext(ctx, u.q(`SELECT `+userCols+` FROM {p}users ORDER BY login`))
	if err != nil {
		return nil, fmt.Errorf("account: list: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		x, err := u.scan(rows, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// Get returns the user login.
func (u *Users) Get(ctx context.Context, login string) (User, error) {
	x, err := u.scan(u.db.QueryRowContext(ctx, u.q(`SELECT `+userCols+` FROM {p}users WHERE login = ?`), login), nil)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, notFound(login)
	}
	return x, err
}

// Disable stops login from signing in (its open sessions are the caller's
// to revoke). Disabling a disabled user changes nothing.
func (u *Users) Disable(ctx context.Context, login, by string) error {
	return u.change(ctx, login, `UPDATE {p}users SET disabled_at = CASE WHEN disabled_at = 0 THEN ? ELSE disabled_at END,
		disabled_by = CASE WHEN disabled_at = 0 THEN ? ELSE disabled_by END WHERE login = ?`, ms(u.now()), by, login)
}

// Enable lets login sign in again and clears its lock-out.
func (u *Users) Enable(ctx context.Context, login string) error {
	return u.change(ctx, login, `UPDATE {p}users SET disabled_at = 0, disabled_by = '', failures = 0, locked_until = 0 WHERE login = ?`, login)
}

// SetExpiry sets when login stops signing in (zero: never).
func (u *Users) SetExpiry(ctx context.Context, login string, at time.Time) error {
	return u.change(ctx, login, `UPDATE {p}users SET expires_at = ? WHERE login = ?`, ms(at), login)
}

// SetPassword replaces login's password.
func (u *Users) SetPassword(ctx context.Context, login, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	var enc string
	var herr error
	if err := u.hash(ctx, func() { enc, herr = hashPassword(password, u.params) }); err != nil {
		return err
	}
	if herr != nil {
		return herr
	}
	return u.change(ctx, login, `UPDATE {p}users SET password = ? WHERE login = ?`, enc, login)
}

func (u *Users) change(ctx context.Context, login, q string, args ...any) error {
	res, err := u.db.ExecContext(ctx, u.q(q), args...)
	if err != nil {
		return fmt.Errorf("account: change %s: %w", login, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(login)
	}
	return nil
}

// Authenticate checks login's password. It returns the user's principal,
// or an error of kind ErrSignInFailed that does not say why (the record
// does). Every attempt is recorded; MaxFailures consecutive failures lock
// the account for LockFor.
func (u *Users) Authenticate(ctx context.Context, login, password string) (identity.Principal, error) {
	failed := &domain.Error{Kind: ErrSignInFailed, Code: "sign_in_failed", Field: "password",
		Message:   "the login or the password is wrong, or the account is disabled or locked after repeated failures; try again, or ask an administrator",
		MessageZH: "登录名或密码错误，或账户已停用、因多次失败被暂时锁定；请重试或联系管理员"}
	var enc string
	x, err := u.scan(u.db.QueryRowContext(ctx, u.q(`SELECT `+userCols+`, password FROM {p}users WHERE login = ?`), login), &enc)
	if errors.Is(err, sql.ErrNoRows) || len(password) > MaxPasswordLen {
		// Spend the time a known login would take.
		_ = u.hash(ctx, func() { _, _, _ = verifyPassword(password, u.dummy) })
		return identity.Principal{}, errors.Join(failed, u.record(ctx, "", OutcomeUnknownLogin))
	}
	if err != nil {
		return identity.Principal{}, fmt.Errorf("account: sign in: %w", err)
	}
	now := u.now()
	switch x.State {
	case "disabled", "expired", "locked":
		_ = u.hash(ctx, func() { _, _, _ = verifyPassword(password, u.dummy) })
		return identity.Principal{}, errors.Join(failed, u.record(ctx, login, x.State))
	}
	var ok bool
	var used Params
	var verr error
	if err := u.hash(ctx, func() { ok, used, verr = verifyPassword(password, enc) }); err != nil {
		return identity.Principal{}, err
	}
	if verr != nil {
		return identity.Principal{}, fmt.Errorf("account: the password hash of %s: %w", login, verr)
	}
	if !ok {
		_, err := u.db.ExecContext(ctx, u.q(`UPDATE {p}users SET failures = failures + 1,
			locked_until = CASE WHEN failures + 1 >= ? THEN ? ELSE locked_until END WHERE login = ?`), MaxFailures, ms(now.Add(LockFor)), login)
		if err != nil {
			return identity.Principal{}, fmt.Errorf("account: sign in: %w", err)
		}
		return identity.Principal{}, errors.Join(failed, u.record(ctx, login, OutcomeBadPassword))
	}
	if _, err := u.db.ExecContext(ctx, u.q(`UPDATE {p}users SET failures = 0, locked_until = 0, last_sign_in = ? WHERE login = ?`), ms(now), login); err != nil {
		return identity.Principal{}, fmt.Errorf("account: sign in: %w", err)
	}
	if used != u.params {
		// Made with other parameters: hash again with today's.
		_ = u.SetPassword(ctx, login, password)
	}
	if err := u.record(ctx, login, OutcomeOK); err != nil {
		return identity.Principal{}, err
	}
	return x.Principal, nil
}

// record adds a sign-in attempt to the record, and drops the rows older
// than signInsKept.
func (u *Users) record(ctx context.Context, login, outcome string) error {
	now := u.now()
	if _, err := u.db.ExecContext(ctx, u.q(`INSERT INTO {p}sign_ins (login, at, outcome) VALUES (?, ?, ?)`), login, ms(now), outcome); err != nil {
		return fmt.Errorf("account: record a sign-in: %w", err)
	}
	if _, err := u.db.ExecContext(ctx, u.q(`DELETE FROM {p}sign_ins WHERE at < ?`), ms(now.Add(-signInsKept))); err != nil {
		return fmt.Errorf("account: trim the record of sign-ins: %w", err)
	}
	return nil
}

// SignIns returns the recorded sign-ins, newest first: of login, or of
// every login when login is empty; at most limit (1–1000).
func (u *Users) SignIns(ctx context.Context, login string, limit int) ([]SignIn, error) {
	limit = min(max(limit, 1), 1000)
	q, args := `SELECT login, at, outcome FROM {p}sign_ins ORDER BY at DESC LIMIT ?`, []any{limit}
	if login != "" {
		q, args = `SELECT login, at, outcome FROM {p}sign_ins WHERE login = ? ORDER BY at DESC LIMIT ?`, []any{login, limit}
	}
	rows, err := u.db.QueryContext(ctx, u.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("account: sign-ins: %w", err)
	}
	defer rows.Close()
	var out []SignIn
	for rows.Next() {
		var s SignIn
		var at int64
		if err := rows.Scan(&s.Login, &at, &s.Outcome); err != nil {
			return nil, err
		}
		s.At = fromMS(at)
		out = append(out, s)
	}
	return out, rows.Err()
}
