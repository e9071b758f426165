package sidestores_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/sidestores"
)

// side opens file companion stores in a new directory, keys under kek.
func side(t *testing.T, kek byte) (sidestores.Side, *keystore.FileStore) {
	t.Helper()
	dir := t.TempDir()
	fs, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	k := make([]byte, keystore.KEKSize)
	k[0] = kek
	ring, err := keystore.NewKEKRing(k)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := identity.OpenTokens(filepath.Join(dir, identity.TokensFile))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := accesslog.OpenFile(filepath.Join(dir, accesslog.FileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tok.Close(); acc.Close() })
	return sidestores.Side{Keys: keystore.WithKEK(fs, ring), Tokens: tok, Access: acc}, fs
}

// TestCopy moves a live key, an erased one, tokens and sensitive reads
// between stores under different key-encrypting keys; again is a no-op;
// a target with another read is refused.
func TestCopy(t *testing.T) {
	ctx := context.Background()
	log, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	src, _ := side(t, 1)
	dst, dstFiles := side(t, 2)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, h := range []string{"a", "b"} {
		if err := src.Keys.Create(ctx, keystore.Key{HouseholdID: h, KeyID: "k-" + h, Secret: make([]byte, keystore.KeySize), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := log.Append(ctx, "household-"+h, eventstore.NoStream(), eventstore.EventData{ID: eventstore.NewID(), Type: "household.registered",
			Data: []byte(`{}`), Metadata: eventstore.Metadata{OccurredAt: now, KeyID: "k-" + h}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Keys.Erase(ctx, "b", now); err != nil {
		t.Fatal(err)
	}
	admin := identity.Principal{Name: "admin", Role: identity.RoleAdmin, Sensitive: true}
	tok, err := src.Tokens.Create(ctx, admin, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Access.(*accesslog.File).RecordAccess(ctx, admin, "a", "profile"); err != nil {
		t.Fatal(err)
	}
	res, err := sidestores.Copy(ctx, log, src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Keys != 2 || res.KeysErased != 1 || res.KeysCopied != 2 || res.TokensCopied != 1 || res.SensitiveCopied != 1 {
		t.Fatalf("copy: %+v", res)
	}
	k, err := dst.Keys.Get(ctx, "a")
	if err != nil || k.KeyID != "k-a" || len(k.Secret) != keystore.KeySize {
		t.Fatalf("key a on the target: %+v, %v", k, err)
	}
	if stored, _ := dstFiles.Get(ctx, "a"); stored.Wrapped == nil || stored.Secret != nil {
		t.Fatalf("key a is not stored wrapped on the target: %+v", stored)
	}
	if k, err := dst.Keys.Get(ctx, "b"); err != nil || !k.Erased() {
		t.Fatalf("key b on the target: %+v, %v", k, err)
	}
	if p, err := dst.Tokens.Authenticate(ctx, tok); err != nil || p.Name != "admin" {
		t.Fatalf("the source's token on the target: %v, %v", p, err)
	}
	again, err := sidestores.Copy(ctx, log, src, dst, nil)
	if err != nil || again.KeysCopied+again.TokensCopied+again.SensitiveCopied != 0 {
		t.Fatalf("again: %+v, %v", again, err)
	}
	other, _ := side(t, 2)
	if err := other.Access.(*accesslog.File).RecordAccess(ctx, admin, "z", "profile"); err != nil {
		t.Fatal(err)
	}
	if _, err := sidestores.Copy(ctx, log, src, other, nil); !errors.Is(err, sidestores.ErrConflict) {
		t.Fatalf("a target with another record of reads: %v", err)
	}
}
