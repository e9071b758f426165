package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/sidestores"
)

// migrateEnd is one end of `doorstep migrate`: where its events are, and
// where its companion stores (data keys, tokens, the record of sensitive
// reads; package sidestores) are.
type migrateEnd struct {
	name       string // "source" or "target", for messages
	flag       string // "from" or "to", for messages
	store      string // a data directory, postgres://… or esdb://…
	schema     string
	data       string // EventStoreDB: the data directory holding the companions
	readModels string // EventStoreDB: the postgres:// URL holding them
	kekFile    string
}

// companionPlace says where an end's companion stores are: a directory
// (dir) or a PostgreSQL schema (pgURL).
func (e migrateEnd) companionPlace() (dir, pgURL string, err error) {
	switch {
	case isPostgresURL(e.store):
		return "", e.store, nil
	case isESDBURL(e.store):
		switch {
		case e.readModels != "" && !isPostgresURL(e.readModels):
			return "", "", usageError{fmt.Sprintf("doorstep migrate: -%s-readmodels %q: give a postgres:// URL / 读模型地址无效", e.flag, redactURL(e.readModels))}
		case e.readModels != "":
			return "", e.readModels, nil
		case e.data != "":
			return e.data, "", nil
		}
		return "", "", usageError{fmt.Sprintf("doorstep migrate: the %s is on EventStoreDB: say where its data keys, tokens and record of sensitive reads are, with -%s-data DIR (the data directory doorstep serve used) or -%s-readmodels postgres://… (its -readmodels); or give -log-only to move the events alone / %s在 EventStoreDB 上：请用 -%s-data 或 -%s-readmodels 指明其数据密钥、令牌和敏感信息查阅记录的位置",
			e.name, e.flag, e.flag, map[string]string{"source": "源", "target": "目标"}[e.name], e.flag, e.flag)}
	}
	return e.store, "", nil
}

// kekRing returns the key-encrypting key of an end: -from/-to-kek-file,
// else the key in DOORSTEP_KEK, else <dir>/kek of a directory. A source directory without one holds keys
// from before KEKs (in clear), read as they are; a target directory without
// one gets a new one, as the embedded store's first start does. On
// PostgreSQL the file must be given.
func (e migrateEnd) kekRing(dir string) (*keystore.KEKRing, string, error) {
	if e.kekFile != "" || os.Getenv(kekEnv) != "" {
		// As doorstep serve: the file, else the key in DOORSTEP_KEK.
		k, err := keystore.ReadKEKFile(e.kekFile)
		if e.kekFile == "" {
			if k, err = keystore.ParseKEK([]byte(os.Getenv(kekEnv))); err != nil {
				err = fmt.Errorf("%s: %w", kekEnv, err)
			}
		}
		if err != nil {
			return nil, "", err
		}
		r, err := keystore.NewKEKRing(k)
		return r, "", err
	}
	if dir == "" {
		return nil, "", usageError{fmt.Sprintf("doorstep migrate: the %s's data keys are in PostgreSQL: give -%s-kek-file FILE (or DOORSTEP_KEK), the key-encrypting key its nodes use (for a new target, the source's kek file or one made by `doorstep keys new-kek -o FILE`; then start doorstep serve with -kek-file FILE) / 请用 -%s-kek-file 指定密钥加密密钥文件",
			e.name, e.flag, e.flag)}
	}
	path := filepath.Join(dir, KEKFile)
	k, err := keystore.ReadKEKFile(path)
	note := ""
	switch {
	case errors.Is(err, os.ErrNotExist) && e.name == "source":
		k, err = make([]byte, keystore.KEKSize), nil
		_, _ = rand.Read(k)
	case errors.Is(err, os.ErrNotExist):
		if err = os.MkdirAll(dir, 0o700); err == nil {
			k, err = keystore.WriteNewKEKFile(path)
		}
		note = path
	}
	if err != nil {
		return nil, "", err
	}
	r, err := keystore.NewKEKRing(k)
	return r, note, err
}

// openCompanions opens an end's companion stores; close releases them.
// newKEK is the path of a key-encrypting key generated for a target
// directory, or "".
func openCompanions(ctx context.Context, e migrateEnd) (side sidestores.Side, newKEK string, close func(), err error) {
	var closers []func()
	close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (sidestores.Side, string, func(), error) {
		close()
		return sidestores.Side{}, "", func() {}, err
	}
	dir, pgURL, err := e.companionPlace()
	if err != nil {
		return fail(err)
	}
	ring, newKEK, err := e.kekRing(dir)
	if err != nil {
		return fail(err)
	}
	if pgURL != "" {
		schema := e.schema
		if schema == "" {
			schema = "doorstep"
		}
		pool, err := openPool(ctx, pgURL, schema)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, pool.Close)
		keys, err := keystore.NewPostgres(ctx, pool, schema)
		if err != nil {
			return fail(err)
		}
		if side.Tokens, err = identity.NewPostgresTokens(ctx, pool, schema); err != nil {
			return fail(err)
		}
		closers = append(closers, side.Tokens.Close)
		acc, err := accesslog.NewPostgres(ctx, pool, schema, nil)
		if err != nil {
			return fail(err)
		}
		side.Keys, side.Access = keystore.WithKEK(keys, ring), acc
		return side, newKEK, close, nil
	}
	if e.name == "source" {
		if _, err := os.Stat(dir); err != nil {
			return fail(fmt.Errorf("the source's data directory %s: %w", dir, err))
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(err)
	}
	keys, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		return fail(err)
	}
	if side.Tokens, err = identity.OpenTokens(filepath.Join(dir, identity.TokensFile)); err != nil {
		return fail(err)
	}
	closers = append(closers, side.Tokens.Close)
	acc, err := accesslog.OpenFile(filepath.Join(dir, accesslog.FileName), nil)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { acc.Close() })
	side.Keys, side.Access = keystore.WithKEK(keys, ring), acc
	return side, newKEK, close, nil
}
