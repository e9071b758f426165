package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// StoredToken is a token as a set stores it, for moving a set between
// stores (`doorstep migrate`): the token's SHA-256, never the token.
type StoredToken struct {
	Hash      string
	Principal Principal
	CreatedAt time.Time
	CreatedBy string
	ExpiresAt time.Time
	RevokedAt time.Time
	RevokedBy string
}

func (r tokenRecord) stored() StoredToken {
	return StoredToken{Hash: r.Hash, Principal: r.Principal, CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy,
		ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt, RevokedBy: r.RevokedBy}
}

func (s StoredToken) record() tokenRecord {
	return tokenRecord{Hash: s.Hash, Principal: s.Principal, CreatedAt: pgTime(s.CreatedAt), CreatedBy: s.CreatedBy,
		ExpiresAt: pgTime(s.ExpiresAt), RevokedAt: pgTime(s.RevokedAt), RevokedBy: s.RevokedBy, loaded: time.Now()}
}

// Equal reports whether two stored tokens are the same record.
func (s StoredToken) Equal(o StoredToken) bool {
	a, b := s.record(), o.record()
	pa, _ := json.Marshal(a.Principal)
	pb, _ := json.Marshal(b.Principal)
	return a.Hash == b.Hash && string(pa) == string(pb) && a.CreatedAt.Equal(b.CreatedAt) && a.CreatedBy == b.CreatedBy &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.RevokedAt.Equal(b.RevokedAt) && a.RevokedBy == b.RevokedBy
}

// Export returns every token of the set as stored (revoked and expired ones
// included), oldest first.
func (t *Tokens) Export(ctx context.Context) ([]StoredToken, error) {
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
	t.mu.RLock()
	out := make([]StoredToken, 0, len(t.recs))
	for _, r := range t.recs {
		out = append(out, r.stored())
	}
	t.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].Hash < out[j].Hash
	})
	return out, nil
}

// Import stores the tokens that the set does not hold yet, as they are
// (hash, principal, life), and returns how many it added; a token the set
// already holds is left as it is (the caller compares them with Export).
// The added tokens are durable when Import returns nil.
func (t *Tokens) Import(ctx context.Context, toks []StoredToken) (int, error) {
	for _, s := range toks {
		if len(s.Hash) != 64 {
			return 0, fmt.Errorf("tokens: import: %q is not the SHA-256 of a token", domainClip(s.Hash))
		}
		if err := s.Principal.Validate(); err != nil {
			return 0, err
		}
	}
	if t.pg != nil {
		tbl := pgx.Identifier{t.pg.schema, "tokens"}.Sanitize()
		b := &pgx.Batch{}
		for _, s := range toks {
			r := s.record()
			js, err := json.Marshal(r.Principal)
			if err != nil {
				return 0, err
			}
			b.Queue(`INSERT INTO `+tbl+` (sha256, principal, created_at, created_by, expires_at, revoked_at, revoked_by)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sha256) DO NOTHING`,
				r.Hash, js, r.CreatedAt, r.CreatedBy, nullTime(r.ExpiresAt), nullTime(r.RevokedAt), r.RevokedBy)
		}
		tx, err := t.pg.pool.Begin(ctx)
		if err != nil {
			return 0, saveError(err)
		}
		defer tx.Rollback(ctx)
		res := tx.SendBatch(ctx, b)
		n := 0
		for range toks {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return 0, saveError(fmt.Errorf("tokens: import into PostgreSQL: %w", err))
			}
			n += int(tag.RowsAffected())
		}
		if err := res.Close(); err != nil {
			return 0, saveError(err)
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, saveError(err)
		}
		return n, nil
	}
	n := 0
	err := t.changeFile(func(recs map[string]tokenRecord) error {
		for _, s := range toks {
			if _, ok := recs[s.Hash]; !ok {
				recs[s.Hash] = s.record()
				n++
			}
		}
		return nil
	})
	return n, err
}
