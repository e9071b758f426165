// Package sidestores moves the stores that live beside an event log when the
// log moves to another backend (`doorstep migrate`, decision 0092): without
// them the target holds sealed fields nobody can open, and nobody can sign
// in.
//
//   - Data keys (package keystore): every household stream of the log names
//     a household whose key, or tombstone, is copied. Keys travel unwrapped
//     only in memory: read through the source's key-encrypting key, stored
//     wrapped under the target's (which may differ). A tombstone stays a
//     tombstone: an erased household stays erased. At the end every key id
//     the log's events name must be known on the target.
//   - Tokens (package identity): every token's record (its SHA-256, never
//     the token), so the same tokens work on the target, revoked and
//     expired ones staying so. Tokens the target already holds are kept.
//   - The record of sensitive reads (package accesslog): every record, in
//     order, with its own time; the target must hold none or a prefix of
//     the source's (an interrupted migration), as for the log.
//
// Every step is idempotent, so running the migration again resumes it;
// when both ends name the same companion stores (EventStoreDB whose
// -readmodels is the target's PostgreSQL schema) nothing is written.
package sidestores

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/keystore"
)

// Access is a record of sensitive reads that can be read whole and
// appended to (accesslog.File, accesslog.Postgres).
type Access interface {
	Each(ctx context.Context, f func(accesslog.Record) error) error
	Import(ctx context.Context, recs []accesslog.Record) error
}

// Side is one end's companion stores.
type Side struct {
	// Keys hands out keys unwrapped (keystore.WithKEK over the stored
	// keys, with that end's key-encrypting key).
	Keys   keystore.KeyStore
	Tokens *identity.Tokens
	Access Access
}

// Result counts what Copy found and wrote.
type Result struct {
	Keys, KeysErased, KeysCopied    int // keys of the log's households (erased ones among them), written by this call
	Tokens, TokensCopied            int
	SensitiveReads, SensitiveCopied int
}

// ErrConflict: the target's companion stores hold something else than the
// source's.
var ErrConflict = errors.New("the target's companion stores disagree with the source's")

// Copy copies src's companion stores into dst. log is the log both ends
// hold (the target's, after the copy): its household streams say which
// keys to move, and every key id its events name must arrive.
func Copy(ctx context.Context, log eventstore.Store, src, dst Side, progress func(phase string, n int)) (Result, error) {
	if progress == nil {
		progress = func(string, int) {}
	}
	var res Result
	households, keyIDs, err := scan(ctx, log)
	if err != nil {
		return res, fmt.Errorf("read the log: %w", err)
	}
	// 1. Data keys.
	have := map[string]bool{}
	for i, h := range households {
		k, err := src.Keys.Get(ctx, h)
		if errors.Is(err, keystore.ErrNoKey) {
			continue
		}
		if err != nil {
			return res, fmt.Errorf("data key of household %s on the source: %w", h, err)
		}
		res.Keys++
		if k.Erased() {
			res.KeysErased++
		}
		have[k.KeyID] = true
		switch err := dst.Keys.Create(ctx, k); {
		case err == nil:
			res.KeysCopied++
		case errors.Is(err, keystore.ErrKeyExists):
			t, err := dst.Keys.Get(ctx, h)
			if err != nil {
				return res, fmt.Errorf("data key of household %s on the target: %w", h, err)
			}
			if d := sameKey(k, t); d != "" {
				return res, fmt.Errorf("%w: the data key of household %s %s / 目标存储中的数据密钥与源不一致", ErrConflict, h, d)
			}
		default:
			return res, fmt.Errorf("store the data key of household %s on the target: %w", h, err)
		}
		if (i+1)%500 == 0 {
			progress("keys", i+1)
		}
	}
	progress("keys", len(households))
	for id := range keyIDs {
		if !have[id] {
			return res, fmt.Errorf("the log names data key %s, which the source's key store does not hold (give the source's data directory or -from-readmodels) / 源密钥库中缺少日志引用的数据密钥", id)
		}
	}
	// 2. Tokens.
	stoks, err := src.Tokens.Export(ctx)
	if err != nil {
		return res, fmt.Errorf("read the source's tokens: %w", err)
	}
	res.Tokens = len(stoks)
	if res.TokensCopied, err = dst.Tokens.Import(ctx, stoks); err != nil {
		return res, fmt.Errorf("store the tokens on the target: %w", err)
	}
	dtoks, err := dst.Tokens.Export(ctx)
	if err != nil {
		return res, fmt.Errorf("read the target's tokens: %w", err)
	}
	byHash := make(map[string]identity.StoredToken, len(dtoks))
	for _, t := range dtoks {
		byHash[t.Hash] = t
	}
	for _, s := range stoks {
		if t, ok := byHash[s.Hash]; !ok || !s.Equal(t) {
			return res, fmt.Errorf("%w: the token %s of %q is not the same on the target / 目标存储中的令牌与源不一致", ErrConflict, s.Hash[:identity.TokenIDLen], s.Principal.Name)
		}
	}
	progress("tokens", len(stoks))
	// 3. The record of sensitive reads: the target holds a prefix.
	var there []accesslog.Record
	if err := dst.Access.Each(ctx, func(r accesslog.Record) error {
		if len(there) >= maxReads {
			return fmt.Errorf("more than %d records of sensitive reads", maxReads)
		}
		there = append(there, r)
		return nil
	}); err != nil {
		return res, fmt.Errorf("read the target's record of sensitive reads: %w", err)
	}
	var batch []accesslog.Record
	flush := func() error {
		if err := dst.Access.Import(ctx, batch); err != nil {
			return fmt.Errorf("store sensitive reads on the target: %w", err)
		}
		res.SensitiveCopied += len(batch)
		batch = batch[:0]
		progress("sensitive reads", res.SensitiveReads)
		return nil
	}
	err = src.Access.Each(ctx, func(r accesslog.Record) error {
		i := res.SensitiveReads
		res.SensitiveReads++
		if i < len(there) {
			if !accesslog.Same(r, there[i]) {
				return fmt.Errorf("%w: its record of sensitive reads differs from the source's at record %d; migrate only into an empty store / 目标存储的敏感信息查阅记录与源不一致", ErrConflict, i+1)
			}
			return nil
		}
		batch = append(batch, r)
		if len(batch) == accesslog.MaxImport {
			return flush()
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if res.SensitiveReads < len(there) {
		return res, fmt.Errorf("%w: it holds %d records of sensitive reads, the source %d / 目标存储的敏感信息查阅记录多于源", ErrConflict, len(there), res.SensitiveReads)
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// maxReads bounds the records of sensitive reads a target may already hold.
const maxReads = 50_000_000

// scan returns the households of the log (its household streams) and the
// key ids its events name.
func scan(ctx context.Context, log eventstore.Store) ([]string, map[string]bool, error) {
	seen := map[string]bool{}
	var households []string
	keyIDs := map[string]bool{}
	var after eventstore.Position
	for {
		page, err := log.ReadAll(ctx, after, 2000)
		if err != nil {
			return nil, nil, err
		}
		for i := range page {
			e := &page[i]
			if h, ok := strings.CutPrefix(e.Stream, domain.HouseholdStream("")); ok && !seen[h] {
				seen[h] = true
				households = append(households, h)
			}
			if e.Metadata.KeyID != "" {
				keyIDs[e.Metadata.KeyID] = true
			}
		}
		if len(page) < 2000 {
			return households, keyIDs, nil
		}
		after = page[len(page)-1].Position
	}
}

// sameKey says how the target's key t differs from the source's s, or "".
func sameKey(s, t keystore.Key) string {
	switch {
	case s.KeyID != t.KeyID:
		return fmt.Sprintf("is %s on the target, %s on the source", t.KeyID, s.KeyID)
	case s.Erased() != t.Erased():
		return fmt.Sprintf("is erased on one side only (target erased: %v)", t.Erased())
	case !s.Erased() && string(s.Secret) != string(t.Secret):
		return "holds another secret on the target"
	}
	return ""
}
