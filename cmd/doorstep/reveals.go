package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/logchain"
)

// The signed head of the record of reveals (decision 0111): `checkpoint
// sign` and `serve -checkpoint-key` sign it with the key that signs the
// log's heads; `verify` checks the record against every head.

// revealRecord is the record of reveals of the store st names, read-only:
// the table on PostgreSQL (the store's, or -readmodels'), else the file in
// dir. close releases what it opened.
type revealRecord struct {
	all   func(ctx context.Context) ([]accesslog.Record, error)
	close func()
}

// Verify checks the record's chain (accesslog.Verifier).
func (r revealRecord) Verify(ctx context.Context) (accesslog.ChainReport, error) {
	recs, err := r.all(ctx)
	if err != nil {
		return accesslog.ChainReport{}, err
	}
	rep, _ := accesslog.CheckHeads(recs, nil, nil)
	return rep.Chain, nil
}

func openRevealRecord(ctx context.Context, dir string, st storeConfig) (revealRecord, error) {
	url := st.URL
	if isESDBURL(url) {
		url = st.ReadModels
	}
	if url == "" || !isPostgresURL(url) {
		path := filepath.Join(dir, accesslog.FileName)
		return revealRecord{all: func(ctx context.Context) ([]accesslog.Record, error) { return accesslog.ReadFile(ctx, path) }, close: func() {}}, nil
	}
	pool, err := openPool(ctx, url, st.Schema)
	if err != nil {
		return revealRecord{}, err
	}
	a, err := accesslog.NewPostgres(ctx, pool, st.Schema, nil)
	if err != nil {
		pool.Close()
		return revealRecord{}, err
	}
	return revealRecord{all: a.All, close: pool.Close}, nil
}

// signReveals signs the head of the record of reveals for `checkpoint
// sign`; an empty record is reported, not an error.
func signReveals(ctx context.Context, s eventstore.Store, dir string, st storeConfig, key ed25519.PrivateKey, stdout io.Writer) error {
	rec, err := openRevealRecord(ctx, dir, st)
	if err != nil {
		return err
	}
	defer rec.close()
	file := filepath.Join(dir, accesslog.HeadsFileName)
	signer := &accesslog.Signer{Record: rec, Store: s, Key: key, File: file, Now: clock.Now}
	h, _, err := signer.Sign(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "nothing to sign") {
			fmt.Fprintln(stdout, "record of reveals: empty, nothing to sign / 查阅记录为空，无需签名")
			return nil
		}
		return err
	}
	fmt.Fprintf(stdout, "signed the record of reveals: its first %d records, head %s, key %s; kept in the log and in %s\n已签名查阅记录：前 %d 条，记录头 %s；已写入日志和 %s\n",
		h.Records, h.Hash, h.KeyID, file, h.Records, h.Hash, file)
	return nil
}

// verifyReveals is `doorstep verify`'s check of the record of reveals: its
// chain, and every signed head of it from the log, the heads file in dir
// and more files (comma-separated), signatures checked with publicKeys.
func verifyReveals(ctx context.Context, s eventstore.Store, dir string, st storeConfig, publicKeys, headFiles string, stdout io.Writer) error {
	var keys []ed25519.PublicKey
	for _, p := range splitList(publicKeys) {
		k, err := logchain.LoadPublicKey(p)
		if err != nil {
			return usageError{"doorstep verify: -public-key: " + err.Error()}
		}
		keys = append(keys, k)
	}
	rec, err := openRevealRecord(ctx, dir, st)
	if err != nil {
		return err
	}
	defer rec.close()
	heads, err := accesslog.ReadLogHeads(ctx, s)
	if err != nil {
		return err
	}
	files := splitList(headFiles)
	if dir != "" {
		files = append([]string{filepath.Join(dir, accesslog.HeadsFileName)}, files...)
	}
	for _, p := range files {
		hs, err := accesslog.ReadHeadsFile(p)
		if err != nil {
			return err
		}
		heads = append(heads, hs...)
	}
	start := time.Now()
	recs, err := rec.all(ctx)
	if err != nil {
		return err
	}
	rep, err := accesslog.CheckHeads(recs, heads, keys)
	if err != nil {
		fmt.Fprintf(stdout, "BROKEN / 查阅记录与签名头不符: %s\n", err)
		return errors.New("the record of reveals does not verify: " + err.Error())
	}
	took := time.Since(start).Round(time.Millisecond)
	fmt.Fprintf(stdout, "record of reveals: %d records (%d from before the chain), chain intact (%s) / 查阅记录：共 %d 条，哈希链完整\n",
		rep.Chain.Records, rep.Chain.Legacy, took, rep.Chain.Records)
	switch {
	case rep.Heads == 0 && rep.Chain.Records > 0:
		fmt.Fprintln(stdout, "no signed head of the record of reveals: its last records removed, or the whole record rewritten, cannot be detected; sign with `doorstep checkpoint sign` or `serve -checkpoint-key` / 查阅记录没有签名头：无法发现截短或整体改写")
	case rep.Heads > 0:
		signed := "signatures NOT checked: give -public-key / 未校验签名"
		if rep.SignaturesChecked {
			signed = "signatures checked / 签名已校验"
		}
		fmt.Fprintf(stdout, "record of reveals: %d signed heads hold (%s); the newest covers %d records; %d later records are not yet covered / 查阅记录与签名头一致\n",
			rep.Heads, signed, rep.Last.Records, rep.Uncovered)
	}
	return nil
}

// revealSignerFor is the server's signer of the record of reveals when
// -checkpoint-key is given.
func revealSignerFor(rt *runtime, dir, keyFile string, interval time.Duration) (*accesslog.Signer, error) {
	if keyFile == "" {
		return nil, nil
	}
	rec, ok := rt.access.(accesslog.Verifier)
	if !ok {
		return nil, nil
	}
	priv, err := logchain.LoadPrivateKey(keyFile)
	if err != nil {
		return nil, usageError{"doorstep: -checkpoint-key: " + err.Error()}
	}
	return &accesslog.Signer{Record: rec, Store: rt.store, Key: priv, File: filepath.Join(dir, accesslog.HeadsFileName), Now: clock.Now, Interval: interval}, nil
}
