package http

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
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/clock"
)

// Role is what a token may do. Each role is scoped:
//
//	worker      its grids: households in them, their problems and referrals
//	supervisor  its communities: the same, community-wide; may reassign and extend
//	auditor     everything, read-only: profiles, as-of views, audit trail, export
//	department  the referrals addressed to its department (and their problems, read-only)
//	integrator  the event stream (optionally limited to communities)
//	admin       everything, and token management
type Role string

const (
	RoleWorker     Role = "worker"
	RoleSupervisor Role = "supervisor"
	RoleAuditor    Role = "auditor"
	RoleDepartment Role = "department"
	RoleIntegrator Role = "integrator"
	RoleAdmin      Role = "admin"
)

// Roles lists every role.
func Roles() []Role {
	return []Role{RoleWorker, RoleSupervisor, RoleAuditor, RoleDepartment, RoleIntegrator, RoleAdmin}
}

// DomainRole is the role recorded in events (domain.Meta.Role).
func (r Role) DomainRole() string {
	switch r {
	case RoleWorker:
		return domain.RoleGridWorker
	case RoleSupervisor:
		return domain.RoleSupervisor
	case RoleAuditor:
		return domain.RoleAuditor
	case RoleDepartment:
		return domain.RoleDepartment
	}
	return string(r)
}

// Principal is an authenticated caller: a person or a system, its role and
// its scope.
type Principal struct {
	Name        string   `json:"name"`
	Role        Role     `json:"role"`
	Grids       []string `json:"grids,omitempty"`       // worker scope
	Communities []string `json:"communities,omitempty"` // supervisor (and optional integrator) scope
	Department  string   `json:"department,omitempty"`  // department scope: referrals addressed to it
	// Sensitive grants reading sensitive fields (identity numbers, phone,
	// income, health, disability). Every such read is recorded.
	Sensitive bool `json:"sensitive,omitempty"`

	// id identifies the token that authenticated the principal (the hex
	// SHA-256 of the token, as stored): unique where names are not. Set by
	// Tokens.Authenticate; idempotency keys are kept per id.
	id string
}

// TokenID identifies the token the principal authenticated with; "" for a
// principal that did not come from Tokens.Authenticate.
func (p Principal) TokenID() string { return p.id }

// Validate checks that the role is known and the scope fits it.
func (p Principal) Validate() error {
	if strings.TrimSpace(p.Name) == "" {
		return newErr(ErrBadRequest, "required", "name", "the token's name is required (the person or system it belongs to)", "令牌名称为必填项（令牌所属的人员或系统）")
	}
	if !slices.Contains(Roles(), p.Role) {
		return newErr(ErrBadRequest, "invalid_role", "role",
			fmt.Sprintf("%q is not a role; use one of: worker, supervisor, auditor, department, integrator, admin", clip(string(p.Role))),
			fmt.Sprintf("%q 不是有效角色；请使用：worker、supervisor、auditor、department、integrator、admin", clip(string(p.Role))))
	}
	switch {
	case p.Role == RoleWorker && len(p.Grids) == 0:
		return newErr(ErrBadRequest, "required", "grids", "a worker token needs the grids it may work in", "网格员令牌须指定可操作的网格")
	case p.Role == RoleSupervisor && len(p.Communities) == 0:
		return newErr(ErrBadRequest, "required", "communities", "a supervisor token needs the communities it supervises", "督导令牌须指定所督导的社区")
	case p.Role == RoleDepartment && p.Department == "":
		return newErr(ErrBadRequest, "required", "department", "a department token needs its department, as named in referrals", "部门令牌须指定部门名称（与转介中的接收单位一致）")
	}
	return nil
}

// inCommunity reports whether the principal's scope covers a household in
// community/grid.
func (p *Principal) covers(community, grid string) bool {
	switch p.Role {
	case RoleAdmin, RoleAuditor:
		return true
	case RoleWorker:
		return slices.Contains(p.Grids, grid)
	case RoleSupervisor:
		return slices.Contains(p.Communities, community)
	case RoleIntegrator:
		return len(p.Communities) == 0 || slices.Contains(p.Communities, community)
	}
	return false
}

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
// table (every node's tokens); should the database fail, it returns the
// number of tokens this node has cached.
func (t *Tokens) Len() int {
	if t.pg != nil {
		if n, err := t.pg.count(); err == nil {
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
// created on another node is seen within that interval.
func (t *Tokens) Supervisor(community string) string {
	if t.pg != nil {
		t.refreshPG()
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

// Authenticate returns the principal of token.
//
// In PostgreSQL a token this node has not cached is looked up in the table
// (so a token created on another node works at once) and cached when
// found; a database error counts as not authenticated.
func (t *Tokens) Authenticate(token string) (Principal, bool) {
	h := hashToken(token)
	t.mu.RLock()
	r, ok := t.recs[h]
	t.mu.RUnlock()
	p := r.Principal
	if !ok && t.pg != nil {
		p, ok = t.authenticatePG(token, h)
	}
	if !ok {
		return Principal{}, false
	}
	p.id = h
	return p, true
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

type principalKey struct{}

// principalFrom returns the authenticated principal of a request context.
func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
