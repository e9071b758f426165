package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/logchain"
)

// headsFileName is the heads file in the data directory: a copy, outside
// the database, of every head this node signed (decision 0073).
const headsFileName = "signed-heads.jsonl"

// runCheckpoint is `doorstep checkpoint keygen -o FILE` and `doorstep
// checkpoint sign -key FILE`.
func runCheckpoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "keygen" && args[0] != "sign") {
		return usageError{"doorstep checkpoint: give a subcommand: keygen -o FILE (create the signing key) or sign -key FILE (sign the log's head now) / 请给出子命令：“keygen -o 文件”（生成签名密钥）或 “sign -key 文件”（立即签名日志头）"}
	}
	fs := flag.NewFlagSet("checkpoint "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	if args[0] == "keygen" {
		out := fs.String("o", "doorstep-signing.pem", "private key file to create; the public key goes to the same name ending in .pub.pem / 私钥文件（公钥写入 .pub.pem）")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if helpAsked(args[1:]) {
			return nil
		}
		return checkpointKeygen(*out, stdout)
	}
	data := dataFlag(fs)
	st := storeFlags(fs)
	key := checkpointKeyFlag(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if helpAsked(args[1:]) {
		return nil
	}
	if *key == "" {
		return usageError{"doorstep checkpoint sign: give -key FILE (or DOORSTEP_CHECKPOINT_KEY), the private key from `doorstep checkpoint keygen` / 请用 -key 指定私钥文件"}
	}
	priv, err := logchain.LoadPrivateKey(*key)
	if err != nil {
		return usageError{"doorstep checkpoint sign: " + err.Error()}
	}
	s, err := openStore(ctx, *data, *st)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	// The record of reveals first: its head goes into the log, and the
	// log's head signed next covers it.
	if err := signReveals(ctx, s, *data, *st, priv, stdout); err != nil {
		return err
	}
	signer := &logchain.Signer{Store: s, Key: priv, File: filepath.Join(*data, headsFileName), Now: clock.Now}
	h, err := signer.Sign(ctx)
	if err != nil {
		return err
	}
	heads := filepath.Join(*data, headsFileName)
	fmt.Fprintf(stdout, "signed: the first %d events, up to position %s, chain %s, key %s; kept in the log and in %s\n已签名：前 %d 条事件，至位置 %s，链值 %s，密钥 %s；已写入日志和 %s\n",
		h.Count, h.Position, h.Chain, h.KeyID, heads, h.Count, h.Position, h.Chain, h.KeyID, heads)
	return nil
}

func checkpointKeyFlag(fs *flag.FlagSet) *string {
	return fs.String("key", envOr("DOORSTEP_CHECKPOINT_KEY", ""), "Ed25519 private key (PEM) that signs heads of the log; keep it off the database's machine if you can (env DOORSTEP_CHECKPOINT_KEY) / 签名私钥文件")
}

// checkpointKeygen writes a new key pair: out (private, mode 0600; never
// overwritten) and its .pub.pem.
func checkpointKeygen(out string, stdout io.Writer) error {
	pubPath := strings.TrimSuffix(out, ".pem") + ".pub.pem"
	for _, p := range []string{out, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return usageError{fmt.Sprintf("doorstep checkpoint keygen: %s exists; it is not overwritten (a lost signing key cannot be recovered) / 文件已存在，不会覆盖", p)}
		}
	}
	priv, pub, err := logchain.GenerateKey()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(priv); err != nil {
		f.Close()
		os.Remove(out)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(out)
		return err
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		os.Remove(out)
		return err
	}
	k, err := logchain.LoadPublicKey(pubPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "private key: %s (keep it secret, away from the database)\n私钥：%s（请妥善保管，勿与数据库放在一起）\npublic key: %s (give it to auditors)\n公钥：%s（交给审计人员）\nkey id / 密钥编号: %s\n", out, out, pubPath, pubPath, logchain.KeyID(k))
	return nil
}

// verifyLog is `doorstep verify`'s work: every stream's chain, the global
// chain and every signed head (decision 0073).
func verifyLog(ctx context.Context, s eventstore.Store, dir, publicKeys, headFiles string, stdout io.Writer) error {
	var cfg logchain.VerifyConfig
	var keyIDs []string
	for _, p := range splitList(publicKeys) {
		k, err := logchain.LoadPublicKey(p)
		if err != nil {
			return usageError{"doorstep verify: -public-key: " + err.Error()}
		}
		cfg.Keys = append(cfg.Keys, k)
		keyIDs = append(keyIDs, logchain.KeyID(k))
	}
	files := splitList(headFiles)
	if dir != "" {
		files = append([]string{filepath.Join(dir, headsFileName)}, files...)
	}
	for _, p := range files {
		hs, err := logchain.ReadFile(p)
		if err != nil {
			return err
		}
		cfg.Heads = append(cfg.Heads, hs...)
	}
	start := time.Now()
	rep, err := logchain.Verify(ctx, s, cfg)
	if err != nil {
		var ce *eventstore.ChainError
		var le *logchain.Error
		switch {
		case errors.As(err, &ce):
			fmt.Fprintf(stdout, "BROKEN: stream %s version %d at position %s: %s (after %d good events)\n哈希链断裂：事件流 %s 版本 %d（位置 %s）：%s（此前 %d 条事件完好）\n", ce.Stream, ce.Version, ce.Position, ce.Reason, rep.Events, ce.Stream, ce.Version, ce.Position, ce.Reason, rep.Events)
		case errors.As(err, &le):
			fmt.Fprintf(stdout, "BROKEN / 日志与签名头不符: %s\n", le)
		}
		return err
	}
	took := time.Since(start).Round(time.Millisecond)
	fmt.Fprintf(stdout, "verified: %d events, every hash chain intact (%s)\n校验通过：共 %d 条事件，哈希链全部完整（%s）\n", rep.Events, took, rep.Events, took)
	switch {
	case rep.Heads == 0:
		fmt.Fprintln(stdout, "no signed head: removing a stream's last events, whole streams or the end of the log cannot be detected; sign heads with `doorstep checkpoint sign` or `serve -checkpoint-key` / 没有签名头：无法发现删除；请签名日志头")
	default:
		signed := "signatures NOT checked: give -public-key / 未校验签名：请用 -public-key 指定公钥"
		if rep.SignaturesChecked {
			signed = "signatures checked with key " + strings.Join(keyIDs, ", ") + " / 签名已校验"
		}
		fmt.Fprintf(stdout, "global chain: %d signed heads hold (%s); the newest covers %d events up to position %s; %d later events are not yet covered by a signed head / 全局链与签名头一致\n",
			rep.Heads, signed, rep.Last.Count, rep.Last.Position, rep.Uncovered)
	}
	return nil
}

// splitList splits a comma-separated list of files.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// signerFor is the server's signer when -checkpoint-key is given: it signs
// heads every `every` events and every `interval` when events came in.
func signerFor(s eventstore.Store, dir string, keyFile string, every uint64, interval time.Duration) (*logchain.Signer, error) {
	if keyFile == "" {
		return nil, nil
	}
	priv, err := logchain.LoadPrivateKey(keyFile)
	if err != nil {
		return nil, usageError{"doorstep: -checkpoint-key: " + err.Error()}
	}
	return &logchain.Signer{Store: s, Key: priv, File: filepath.Join(dir, headsFileName), Now: clock.Now, Every: every, Interval: interval}, nil
}
