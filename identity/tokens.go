package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/doorstep/doorstep/internal/clock"
)

// tokenRecord is one entry of the token set: the SHA-256 of the token, never
// the token itself.
type tokenRecord struct {
	Hash      string    `json:"sha256"`
	Principal Principal `json:"principal"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	// ExpiresAt, when set, is the instant from which the token no longer
	// authenticates.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// RevokedAt, when set, is when the token was revoked: it never
	// authenticates again.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`

	// loaded is when (time.Now, monotonic) a PostgreSQL set read the row;
	// a cached row older than the cache TTL is read again.
	loaded time.Time
}

// TokenInfo describes a token for its administrators: never the token, only
// its id (the first TokenIDLen hex digits of its SHA-256), its principal and
// its life.
type TokenInfo struct {
	ID        string    `json:"id"`
	Principal Principal `json:"principal"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
	// State is "active", "expired" or "revoked" at the time of listing.
	State string `json:"state"`
}

// TokenIDLen is the length of a token id: hex digits of the token's SHA-256.
const TokenIDLen = 16

// TokenID returns the id of a token (what List shows and Revoke takes).
func TokenID(token string) string { return hashToken(token)[:TokenIDLen] }

func (r tokenRecord) info(now time.Time) TokenInfo {
	st := "active"
	switch {
	case !r.RevokedAt.IsZero():
		st = "revoked"
	case r.expired(now):
		st = "expired"
	}
	return TokenInfo{ID: r.Hash[:TokenIDLen], Principal: r.Principal, CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy,
		ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt, RevokedBy: r.RevokedBy, State: st}
}

func (r tokenRecord) expired(now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// usable reports why r may not authenticate at now, or nil.
func (r tokenRecord) usable(now time.Time) error {
	switch {
	case !r.RevokedAt.IsZero():
		return errRevoked
	case r.expired(now):
		return errExpired
	}
	return nil
}

// Tokens is the bearer-token set: tokens are stored as SHA-256 hashes, so
// the store never holds a usable secret. A token may carry an expiry and
// may be revoked. Safe for concurrent use.
//
// OpenTokens keeps the set in a JSON file in one node's data directory.
// OpenPostgresTokens and NewPostgresTokens keep it in a PostgreSQL table
// shared by every node on one database, so that a token created on one
// node works on all of them; the in-memory map is then a cache of that
// table (see tokens_postgres.go).
type Tokens struct {
	path string    // the tokens file; "" when pg is set
	pg   *pgTokens // the PostgreSQL table; nil for the file
	now  func() time.Time

	mu   sync.RWMutex
	recs map[string]tokenRecord // by hash
	// fileStamp is the tokens file as last read or written (size, mtime,
	// inode): another process (`doorstep token`) may change the file, and
	// the set reads it again when the stamp differs.
	fileStamp fileStamp
	// fileChecked is when (time.Now, in Unix nanoseconds) the file was last
	// checked for another process's change; it is checked at most every
	// fileCheckEvery (a stat costs more than the rest of Authenticate).
	fileChecked    atomic.Int64
	fileCheckEvery time.Duration
}

// FileCheckInterval is how often a file token set looks for a change made
// by another process: a token revoked with `doorstep token` stops working
// in a running server within this time.
const FileCheckInterval = 100 * time.Millisecond

// TokensFile is the name of the tokens file in the data directory.
const TokensFile = "tokens.json"

// OpenTokens loads the tokens file at path; a missing file is an empty set.
// A temporary file left by an interrupted write (tokens.json.tmp) is
// removed.
//
// Several processes may use one file (a running server and `doorstep
// token`): every change is made under an exclusive lock of path+".lock",
// on the file as it is on disk, and a change another process made is
// noticed within FileCheckInterval (one stat of the file at most that
// often).
func OpenTokens(path string) (*Tokens, error) {
	t := &Tokens{path: path, now: clock.Now, recs: map[string]tokenRecord{}, fileCheckEvery: FileCheckInterval}
	if err := os.Remove(path + ".tmp"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tokens: remove the temporary file of an interrupted write: %w", err)
	}
	if err := t.reloadFileLocked(); err != nil {
		return nil, err
	}
	return t, nil
}

// fileStamp identifies one version of the tokens file.
type fileStamp struct {
	size  int64
	mtime time.Time
	ino   uint64
	ok    bool // the file exists
}

func stampOf(fi os.FileInfo) fileStamp {
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime(), ok: true}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// reloadFileLocked reads the tokens file if it changed since it was last
// read or written. Called with t.mu held for writing (or before t is
// shared).
func (t *Tokens) reloadFileLocked() error {
	fi, err := os.Stat(t.path)
	if errors.Is(err, os.ErrNotExist) {
		t.recs, t.fileStamp = map[string]tokenRecord{}, fileStamp{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	st := stampOf(fi)
	if st == t.fileStamp {
		return nil
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	var recs []tokenRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return fmt.Errorf("tokens: %s is damaged: %w", t.path, err)
	}
	m := make(map[string]tokenRecord, len(recs))
	for _, r := range recs {
		if len(r.Hash) != 2*sha256.Size {
			return fmt.Errorf("tokens: %s is damaged: a token hash of %d characters", t.path, len(r.Hash))
		}
		m[r.Hash] = r
	}
	t.recs, t.fileStamp = m, st
	return nil
}

// fileChanged reports whether the tokens file differs from what t holds.
func (t *Tokens) fileChanged() bool {
	fi, err := os.Stat(t.path)
	if err != nil {
		return t.fileStamp.ok || !errors.Is(err, os.ErrNotExist)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return stampOf(fi) != t.fileStamp
}

// refreshFile reads the file again if another process changed it, looking
// at most every fileCheckEvery. A file that cannot be read keeps the set as
// it was.
func (t *Tokens) refreshFile() { t.refreshFileIf(false) }

// refreshFileIf is refreshFile, looking at once when now is true.
func (t *Tokens) refreshFileIf(now bool) {
	if t.path == "" {
		return
	}
	at := time.Now().UnixNano()
	if last := t.fileChecked.Load(); !now && (at-last < int64(t.fileCheckEvery) || !t.fileChecked.CompareAndSwap(last, at)) {
		return
	}
	if !t.fileChanged() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.reloadFileLocked()
}

// changeFile runs change on the set as it is on disk, under the file's
// lock (other processes) and t.mu (this one), and saves it; on failure
// the set and the file stay as they were.
func (t *Tokens) changeFile(change func(recs map[string]tokenRecord) error) error {
	if err := os.MkdirAll(filepath.Dir(t.path), 0o700); err != nil {
		return saveError(err)
	}
	unlock, err := lockFile(t.path + ".lock")
	if err != nil {
		return saveError(err)
	}
	defer unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.reloadFileLocked(); err != nil {
		return err
	}
	next := make(map[string]tokenRecord, len(t.recs)+1)
	for h, r := range t.recs {
		next[h] = r
	}
	if err := change(next); err != nil {
		return err
	}
	st, err := saveFile(t.path, next)
	if err != nil {
		return err
	}
	t.recs, t.fileStamp = next, st
	return nil
}

// lockFile takes an exclusive advisory lock (flock) on path, creating it.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Len returns the number of tokens (revoked and expired ones included). In
// PostgreSQL it counts the rows of the table (every node's tokens); should
// the database fail (or ctx end), it returns the number of tokens this node
// has cached.
func (t *Tokens) Len(ctx context.Context) int {
	if t.pg != nil {
		if n, err := t.pg.count(ctx); err == nil {
			return n
		}
	}
	t.refreshFile()
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.recs)
}

// EnsureAdmin creates an admin token when the file holds no token at all
// and returns it (created true). The token is shown only this once.
//
// In PostgreSQL the check and the insert are one transaction under an
// advisory lock, so of several nodes starting at once on an empty table
// exactly one creates the admin token; the others get created false.
func (t *Tokens) EnsureAdmin(ctx context.Context) (token string, created bool, err error) {
	if t.pg != nil {
		return t.ensureAdminPG(ctx)
	}
	err = t.changeFile(func(recs map[string]tokenRecord) error {
		if len(recs) > 0 {
			return nil
		}
		var rec tokenRecord
		token, rec, err = t.newRecord(Principal{Name: "admin", Role: RoleAdmin, Sensitive: true}, "first start", time.Time{})
		if err != nil {
			return err
		}
		recs[rec.Hash] = rec
		return nil
	})
	if err != nil {
		return "", false, err
	}
	return token, token != "", nil
}

// Create issues a new token for p that never expires (until revoked) and
// persists its hash. The returned token is the only copy; its hash is
// durable before Create returns.
func (t *Tokens) Create(ctx context.Context, p Principal, by string) (string, error) {
	return t.CreateExpiring(ctx, p, by, time.Time{})
}

// CreateExpiring is Create for a token that stops authenticating at
// expiresAt (zero: never).
func (t *Tokens) CreateExpiring(ctx context.Context, p Principal, by string, expiresAt time.Time) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if err := validExpiry(expiresAt); err != nil {
		return "", err
	}
	if t.pg != nil {
		return t.createPG(ctx, p, by, expiresAt)
	}
	token, rec, err := t.newRecord(p, by, expiresAt)
	if err != nil {
		return "", err
	}
	if err := t.changeFile(func(recs map[string]tokenRecord) error { recs[rec.Hash] = rec; return nil }); err != nil {
		return "", err
	}
	return token, nil
}

// newRecord makes a new token and the record of it as it is stored: UTC,
// microseconds (what timestamptz keeps, so a PostgreSQL cache holds what
// the table does).
func (t *Tokens) newRecord(p Principal, by string, expiresAt time.Time) (string, tokenRecord, error) {
	token, h, err := newToken()
	if err != nil {
		return "", tokenRecord{}, err
	}
	return token, tokenRecord{Hash: h, Principal: p, CreatedAt: pgTime(t.now()), CreatedBy: by, ExpiresAt: pgTime(expiresAt), loaded: time.Now()}, nil
}

// pgTime is t in UTC at microseconds; the zero time stays zero.
func pgTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Expiry bounds: an expiry must fall in these years.
const (
	minExpiryYear = 2000
	maxExpiryYear = 9999
)

func validExpiry(at time.Time) error {
	if at.IsZero() {
		return nil
	}
	if y := at.UTC().Year(); y < minExpiryYear || y > maxExpiryYear {
		return invalid("invalid_expiry", "expires_at",
			fmt.Sprintf("the expiry %s is out of range: give an RFC 3339 instant between the years %d and %d, or none for a token that does not expire", at.UTC().Format(time.RFC3339), minExpiryYear, maxExpiryYear),
			fmt.Sprintf("过期时间 %s 超出范围：请给出 %d 年至 %d 年之间的 RFC 3339 时间，或不填（令牌不过期）", at.UTC().Format(time.RFC3339), minExpiryYear, maxExpiryYear))
	}
	return nil
}

// Supervisor returns the name of a supervisor whose token covers
// community (the earliest created, among tokens neither revoked nor
// expired), or "".
//
// In PostgreSQL it first reloads the cached set from the table when the
// last load is older than the refresh interval (5 s), so a supervisor
// created on another node is seen within that interval. A reload that fails
// (or outlasts ctx) keeps the cached set.
func (t *Tokens) Supervisor(ctx context.Context, community string) string {
	if t.pg != nil {
		t.refreshPG(ctx)
	}
	t.refreshFile()
	now := t.now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	best := tokenRecord{}
	for _, r := range t.recs {
		if r.Principal.Role == RoleSupervisor && slices.Contains(r.Principal.Communities, community) && r.usable(now) == nil &&
			(best.Hash == "" || r.CreatedAt.Before(best.CreatedAt)) {
			best = r
		}
	}
	return best.Principal.Name
}

// Authenticate returns the principal of token; ErrUnknownToken for a token
// the set does not hold, an error of kind ErrTokenRevoked or
// ErrTokenExpired for one that no longer authenticates.
//
// In PostgreSQL a token this node has not cached, or cached longer ago
// than the cache TTL, is looked up in the table (so a token created on
// another node works at once, and one revoked there stops working here at
// the latest after the TTL; a notification from that node usually drops it
// at once). The lookup runs under ctx; a database error, or ctx ending, is
// returned as it is for an uncached token (neither accepted nor known to be
// wrong), while a cached one is still accepted.
func (t *Tokens) Authenticate(ctx context.Context, token string) (Principal, error) {
	h := hashToken(token)
	t.refreshFile()
	t.mu.RLock()
	r, ok := t.recs[h]
	t.mu.RUnlock()
	if t.pg != nil && (!ok || time.Since(r.loaded) >= t.pg.cacheTTL) {
		fresh, err := t.authenticatePG(ctx, token, h)
		switch {
		case err == nil:
			r, ok = fresh, true
		case errors.Is(err, ErrUnknownToken):
			return Principal{}, err
		case !ok:
			return Principal{}, err
		}
	}
	if !ok {
		return Principal{}, ErrUnknownToken
	}
	if err := r.usable(t.now()); err != nil {
		return Principal{}, err
	}
	p := r.Principal
	p.id = h
	return p, nil
}

// List returns every token (active, expired and revoked), oldest first.
func (t *Tokens) List(ctx context.Context) ([]TokenInfo, error) {
	if t.pg != nil {
		recs, err := t.pg.all(ctx)
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		t.recs = recs
		t.mu.Unlock()
	}
	t.refreshFileIf(true)
	now := t.now()
	t.mu.RLock()
	out := make([]TokenInfo, 0, len(t.recs))
	for _, r := range t.recs {
		out = append(out, r.info(now))
	}
	t.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Revoke revokes the token with id (TokenID) for good, recording by; from
// then on it does not authenticate, on any node (see Authenticate). Revoking
// a revoked token changes nothing. An id that matches no token is an error
// of kind ErrTokenNotFound.
func (t *Tokens) Revoke(ctx context.Context, id, by string) error {
	if err := validID(id); err != nil {
		return err
	}
	at := pgTime(t.now())
	if t.pg != nil {
		return t.changePG(ctx, id, t.pg.revokeSQL, at, by)
	}
	return t.changeFile(func(recs map[string]tokenRecord) error {
		h, err := findID(recs, id)
		if err != nil {
			return err
		}
		r := recs[h]
		if r.RevokedAt.IsZero() {
			r.RevokedAt, r.RevokedBy = at, by
			recs[h] = r
		}
		return nil
	})
}

// SetExpiry sets when the token with id stops authenticating (zero: never).
// A revoked token stays revoked.
func (t *Tokens) SetExpiry(ctx context.Context, id string, expiresAt time.Time) error {
	if err := validID(id); err != nil {
		return err
	}
	if err := validExpiry(expiresAt); err != nil {
		return err
	}
	expiresAt = pgTime(expiresAt)
	if t.pg != nil {
		var at *time.Time
		if !expiresAt.IsZero() {
			at = &expiresAt
		}
		return t.changePG(ctx, id, t.pg.expirySQL, at)
	}
	return t.changeFile(func(recs map[string]tokenRecord) error {
		h, err := findID(recs, id)
		if err != nil {
			return err
		}
		r := recs[h]
		r.ExpiresAt = expiresAt
		recs[h] = r
		return nil
	})
}

func validID(id string) error {
	if len(id) != TokenIDLen || strings.Trim(id, "0123456789abcdef") != "" {
		q := domainClip(id)
		return invalid("invalid_token_id", "id",
			fmt.Sprintf("%q is not a token id: a token id is %d lower-case hex digits, as `doorstep token list` and GET /v1/tokens show", q, TokenIDLen),
			fmt.Sprintf("%q 不是令牌编号：令牌编号为 %d 位小写十六进制数字，见 `doorstep token list` 或 GET /v1/tokens", q, TokenIDLen))
	}
	return nil
}

func findID(recs map[string]tokenRecord, id string) (string, error) {
	for h := range recs {
		if strings.HasPrefix(h, id) {
			return h, nil
		}
	}
	return "", notFound(id)
}

// Close releases the PostgreSQL resources of a set opened with
// OpenPostgresTokens or NewPostgresTokens (the notification listener; the
// pool if OpenPostgresTokens opened it); for the file it does nothing.
// Calling it again does nothing.
func (t *Tokens) Close() {
	if t.pg != nil {
		t.pg.close()
	}
}

// tokenPrefix starts every token, followed by tokenRandomBytes random bytes
// in unpadded base64url.
const (
	tokenPrefix      = "ds_"
	tokenRandomBytes = 32
)

// newToken returns a new random token and its hash.
func newToken() (token, hash string, err error) {
	var raw [tokenRandomBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", fmt.Errorf("tokens: generate a token: %w", err)
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return token, hashToken(token), nil
}

// fsys is the file system the tokens file is written through; tests
// replace it to make a write fail as a full disk does.
var fsys = struct {
	write func(f *os.File, b []byte) (int, error)
}{write: func(f *os.File, b []byte) (int, error) { return f.Write(b) }}

// saveFile writes recs to path atomically: a temporary file, fsynced,
// renamed over path, then the directory fsynced. On any failure the
// temporary file is removed and path is as it was; the error is a
// *domain.Error of kind ErrTokensNotSaved, in both languages.
func saveFile(path string, recs map[string]tokenRecord) (fileStamp, error) {
	list := make([]tokenRecord, 0, len(recs))
	for _, r := range recs {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].CreatedAt.Equal(list[j].CreatedAt) {
			return list[i].CreatedAt.Before(list[j].CreatedAt)
		}
		return list[i].Hash < list[j].Hash
	})
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fileStamp{}, err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fileStamp{}, saveError(err)
	}
	fail := func(err error) (fileStamp, error) {
		f.Close()
		os.Remove(tmp)
		return fileStamp{}, saveError(err)
	}
	if _, err := fsys.write(f, b); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fileStamp{}, saveError(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fileStamp{}, saveError(err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, saveError(err)
	}
	return stampOf(fi), nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
