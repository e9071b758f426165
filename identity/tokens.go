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
	"sync"
	"time"

	"github.com/doorstep/doorstep/internal/clock"
)

// tokenRecord is one line of the tokens file: the SHA-256 of the token, never
// the token itself.
type tokenRecord struct {
	Hash      string    `json:"sha256"`
	Principal Principal `json:"principal"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// Tokens is the bearer-token set: tokens are stored as SHA-256 hashes, so
// the store never holds a usable secret. Safe for concurrent use.
//
// OpenTokens keeps the set in a JSON file in one node's data directory.
// OpenPostgresTokens keeps it in a PostgreSQL table shared by every node on
// one database, so that a token created on one node works on all of them;
// the in-memory map is then a cache of that table (see tokens_postgres.go).
type Tokens struct {
	path string    // the tokens file; "" when pg is set
	pg   *pgTokens // the PostgreSQL table; nil for the file
	mu   sync.RWMutex
	recs map[string]tokenRecord // by hash
}

// TokensFile is the name of the tokens file in the data directory.
const TokensFile = "tokens.json"

// OpenTokens loads the tokens file at path; a missing file is an empty set.
func OpenTokens(path string) (*Tokens, error) {
	t := &Tokens{path: path, recs: map[string]tokenRecord{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	var recs []tokenRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("tokens: %s is damaged: %w", path, err)
	}
	for _, r := range recs {
		t.recs[r.Hash] = r
	}
	return t, nil
}

// Len returns the number of tokens. In PostgreSQL it counts the rows of the
// table (every node's tokens); should the database fail (or ctx end), it
// returns the number of tokens this node has cached.
func (t *Tokens) Len(ctx context.Context) int {
	if t.pg != nil {
		if n, err := t.pg.count(ctx); err == nil {
			return n
		}
	}
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
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.recs) > 0 {
		return "", false, nil
	}
	token, err = t.createLocked(Principal{Name: "admin", Role: RoleAdmin, Sensitive: true}, "first start")
	return token, err == nil, err
}

// Create issues a new token for p and persists its hash. The returned
// token is the only copy; its hash is durable before Create returns.
func (t *Tokens) Create(ctx context.Context, p Principal, by string) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if t.pg != nil {
		return t.createPG(ctx, p, by)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.createLocked(p, by)
}

func (t *Tokens) createLocked(p Principal, by string) (string, error) {
	token, h, err := newToken()
	if err != nil {
		return "", err
	}
	t.recs[h] = tokenRecord{Hash: h, Principal: p, CreatedAt: clock.Now().UTC(), CreatedBy: by}
	if err := t.saveLocked(); err != nil {
		delete(t.recs, h)
		return "", err
	}
	return token, nil
}

// Supervisor returns the name of a supervisor whose token covers
// community (the earliest created), or "".
//
// In PostgreSQL it first reloads the cached set from the table when the
// last load is older than the refresh interval (5 s), so a supervisor
// created on another node is seen within that interval. A reload that fails
// (or outlasts ctx) keeps the cached set.
func (t *Tokens) Supervisor(ctx context.Context, community string) string {
	if t.pg != nil {
		t.refreshPG(ctx)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	best := tokenRecord{}
	for _, r := range t.recs {
		if r.Principal.Role == RoleSupervisor && slices.Contains(r.Principal.Communities, community) &&
			(best.Hash == "" || r.CreatedAt.Before(best.CreatedAt)) {
			best = r
		}
	}
	return best.Principal.Name
}

// Authenticate returns the principal of token, or ErrUnknownToken.
//
// In PostgreSQL a token this node has not cached is looked up in the table
// (so a token created on another node works at once) and cached when
// found. The lookup runs under ctx (the caller bounds it); a database
// error, or ctx ending, is returned as it is: the token is then neither
// accepted nor known to be wrong.
func (t *Tokens) Authenticate(ctx context.Context, token string) (Principal, error) {
	h := hashToken(token)
	t.mu.RLock()
	r, ok := t.recs[h]
	t.mu.RUnlock()
	p := r.Principal
	if !ok {
		if t.pg == nil {
			return Principal{}, ErrUnknownToken
		}
		var err error
		if p, err = t.authenticatePG(ctx, token, h); err != nil {
			return Principal{}, err
		}
	}
	p.id = h
	return p, nil
}

// Close releases the PostgreSQL connections of a set opened with
// OpenPostgresTokens; for the file it does nothing. Calling it again does
// nothing.
func (t *Tokens) Close() {
	if t.pg != nil {
		t.pg.pool.Close()
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

func (t *Tokens) saveLocked() error {
	recs := make([]tokenRecord, 0, len(t.recs))
	for _, r := range t.recs {
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].CreatedAt.Before(recs[j].CreatedAt) })
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(t.path), 0o700); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	tmp := t.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("tokens: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("tokens: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	if err := os.Rename(tmp, t.path); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	return nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
