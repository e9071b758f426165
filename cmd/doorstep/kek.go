package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/webhook"
)

// KEKFile is the name of the key-encrypting key the embedded store
// generates in its data directory when none is given (decision 0067).
const KEKFile = "kek"

// kekEnv holds a KEK itself (base64), for platforms that inject secrets as
// environment variables; -kek-file (DOORSTEP_KEK_FILE) takes precedence.
const kekEnv = "DOORSTEP_KEK"

// kekFlags adds -kek-file and -kek-old-file to a command that opens the key
// store.
func kekFlags(fs *flag.FlagSet, st *storeConfig) {
	fs.StringVar(&st.KEKFile, "kek-file", envOr("DOORSTEP_KEK_FILE", ""), "file holding the key-encrypting key of the data keys (base64 of 32 bytes, mode 0600; env DOORSTEP_KEK_FILE, or the key itself in DOORSTEP_KEK); embedded store default: <data>/kek, generated / 数据密钥的加密密钥文件")
	fs.StringVar(&st.KEKOldFile, "kek-old-file", envOr("DOORSTEP_KEK_OLD_FILE", ""), "during a rotation, the previous key-encrypting key, still accepted (env DOORSTEP_KEK_OLD_FILE) / 轮换期间仍接受的旧加密密钥文件")
}

// loadKEKRing returns the KEK ring the operator configured: -kek-file, or
// DOORSTEP_KEK, with -kek-old-file accepted. Without either, the embedded
// store uses <dir>/kek, generating it (0600) on first start and saying so
// in the log; PostgreSQL refuses to start, as nodes generating KEKs of
// their own could not read each other's data keys.
func loadKEKRing(dir string, st storeConfig, log *slog.Logger) (*keystore.KEKRing, error) {
	var cur []byte
	var err error
	switch {
	case st.KEKFile != "":
		cur, err = keystore.ReadKEKFile(st.KEKFile)
	case os.Getenv(kekEnv) != "":
		cur, err = keystore.ParseKEK([]byte(os.Getenv(kekEnv)))
		if err != nil {
			err = fmt.Errorf("%s: %w", kekEnv, err)
		}
	case isPostgresURL(st.URL) || st.ReadModels != "":
		// Keys in PostgreSQL (the store, or EventStoreDB's -readmodels).
		return nil, usageError{"doorstep: on PostgreSQL the data keys are wrapped with a key-encrypting key every node shares: give -kek-file FILE (or DOORSTEP_KEK_FILE, or the key in DOORSTEP_KEK); make one with `doorstep keys new-kek -o FILE` / 使用 PostgreSQL 时须提供各节点共用的密钥加密密钥：-kek-file 文件（或环境变量 DOORSTEP_KEK_FILE / DOORSTEP_KEK）；可用 `doorstep keys new-kek -o 文件` 生成"}
	default:
		path := filepath.Join(dir, KEKFile)
		cur, err = keystore.ReadKEKFile(path)
		if errors.Is(err, os.ErrNotExist) {
			if err = os.MkdirAll(dir, 0o700); err == nil {
				cur, err = keystore.WriteNewKEKFile(path)
			}
			if err == nil {
				log.Warn("generated a key-encrypting key for the data keys beside the data; for real protection move it off this disk and pass -kek-file (decision 0067) / 已在数据目录中生成数据密钥的加密密钥；为切实保护，请将其移出此磁盘并用 -kek-file 指定",
					"path", path, "kek_id", keystore.KEKID(cur))
			}
		}
	}
	if err != nil {
		return nil, err
	}
	var old [][]byte
	if st.KEKOldFile != "" {
		o, err := keystore.ReadKEKFile(st.KEKOldFile)
		if err != nil {
			return nil, err
		}
		old = append(old, o)
	}
	return keystore.NewKEKRing(cur, old...)
}

// wrapKeys puts the data keys under ring and rewraps every key not yet
// under its current KEK (keys from before KEKs, keys under the old KEK of a
// rotation).
func wrapKeys(ctx context.Context, keys keystore.KeyStore, ring *keystore.KEKRing, log *slog.Logger) (*keystore.WrappedStore, error) {
	w := keystore.WithKEK(keys, ring)
	n, err := w.Rewrap(ctx)
	if err != nil {
		return nil, fmt.Errorf("wrap the data keys under %s: %w", ring.CurrentID(), err)
	}
	if n > 0 {
		log.Info("data keys wrapped under the current key-encrypting key", "keys", n, "kek_id", ring.CurrentID())
	}
	return w, nil
}

// runKeys manages the key-encrypting key:
//
//	doorstep keys new-kek -o FILE        write a new random KEK (0600)
//	doorstep keys rotate-kek -kek-file NEW -kek-old-file OLD
//	                                     rewrap every data key under NEW
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "new-kek" && args[0] != "rotate-kek") {
		return usageError{"doorstep keys: give a subcommand: new-kek -o FILE, or rotate-kek -kek-file NEW -kek-old-file OLD / 请给出子命令：new-kek -o 文件，或 rotate-kek -kek-file 新 -kek-old-file 旧"}
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	if args[0] == "new-kek" {
		out := fs.String("o", "", "the file to create (must not exist) / 要创建的文件")
		if err := parseFlags(fs, args[1:]); err != nil || helpAsked(args[1:]) {
			return err
		}
		if *out == "" {
			return usageError{"doorstep keys new-kek: give -o FILE / 请用 -o 指定文件"}
		}
		k, err := keystore.WriteNewKEKFile(*out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%s); keep it apart from the data and its backups / 已写入，请与数据及其备份分开保存\n", *out, keystore.KEKID(k))
		return nil
	}
	data := dataFlag(fs)
	st := storeFlags(fs)
	if err := parseFlags(fs, args[1:]); err != nil || helpAsked(args[1:]) {
		return err
	}
	if st.KEKFile == "" || st.KEKOldFile == "" {
		return usageError{"doorstep keys rotate-kek: give -kek-file NEW and -kek-old-file OLD; then start every node with -kek-file NEW / 请给出 -kek-file 新密钥 和 -kek-old-file 旧密钥"}
	}
	ring, err := loadKEKRing(*data, *st, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	keys, closeKeys, err := openKeyStore(ctx, *data, *st)
	if err != nil {
		return err
	}
	n, err := keystore.WithKEK(keys, ring).Rewrap(ctx)
	closeKeys()
	if err != nil {
		return err
	}
	// The webhook signing secrets are wrapped under the same KEK (decision
	// 0126): the webhook manager's Init rewraps them.
	rt, err := openExisting(ctx, *data, *st)
	if err != nil {
		return err
	}
	defer rt.Close()
	enc, err := cloudevent.NewEncoder("", "")
	if err != nil {
		return err
	}
	cfg := rt.webhookConfig(enc, nil)
	m, err := webhook.New(cfg)
	if err != nil {
		return err
	}
	if err := webhook.Init(ctx, cfg.DB, cfg.Dialect); err != nil {
		return err
	}
	w, err := m.RewrapSecrets(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rewrapped %d data keys and %d webhook signing secrets under %s; the old key-encrypting key is no longer needed / 已用新密钥重新加密 %d 个数据密钥和 %d 个回调签名密钥\n", n, w, ring.CurrentID(), n, w)
	return nil
}

// openKeyStore opens the data-key store alone: the keys directory of the
// embedded store, or the data_keys table on PostgreSQL (on a pool of the
// command's own, which the returned func closes after the store).
func openKeyStore(ctx context.Context, dir string, st storeConfig) (keystore.KeyStore, func(), error) {
	if st.URL != "" {
		pool := &toolPool{}
		p, err := pool.get(ctx, st.URL, st.Schema)
		if err != nil {
			return nil, nil, err
		}
		s, err := keystore.NewPostgres(ctx, p, st.Schema)
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		return s, func() { s.Close(); pool.Close() }, nil
	}
	p := filepath.Join(dir, "keys")
	if _, err := os.Stat(p); err != nil {
		return nil, nil, fmt.Errorf("no key directory at %s (%v): give -data the data directory / 数据目录中没有密钥目录", p, err)
	}
	s, err := keystore.OpenFileStore(p)
	return s, func() {}, err
}
