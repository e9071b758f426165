package keystore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/keystore"
)

func mustVault(t *testing.T, dir string) (*keystore.Vault, *keystore.FileStore) {
	t.Helper()
	fs, err := keystore.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return keystore.New(fs, keystore.Config{}), fs
}

func TestSealOpenRoundTripAndPersistence(t *testing.T) {
	dir := t.TempDir()
	v, _ := mustVault(t, dir)
	secret := []byte("110101194801010023")
	s, err := v.Seal(context.Background(), "h1", secret)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID == "" || bytes.Contains(s.Ciphertext, secret) || len(s.Ciphertext) != 12+len(secret)+16 {
		t.Fatalf("sealed = %+v", s)
	}
	s2, _ := v.Seal(context.Background(), "h1", secret)
	if bytes.Equal(s.Ciphertext, s2.Ciphertext) || s.KeyID != s2.KeyID {
		t.Fatal("two seals of one value must differ (random nonce) under one key")
	}
	// A fresh vault over the same directory opens it: the key is durable.
	v2, _ := mustVault(t, dir)
	got, err := v2.Open(context.Background(), "h1", s)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open after reopen = %q, %v", got, err)
	}
	r, err := domain.Reveal(context.Background(), v2, "h1", s)
	if err != nil || r.Value != string(secret) || r.Erased {
		t.Fatalf("reveal = %+v %v", r, err)
	}
}

func TestOpenRejectsTamperingAndOtherHousehold(t *testing.T) {
	v, _ := mustVault(t, t.TempDir())
	s, _ := v.Seal(context.Background(), "h1", []byte("13800138000"))
	if _, err := v.Seal(context.Background(), "h2", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// Sealed for h1: h2 must not open it (different key and bound id).
	if _, err := v.Open(context.Background(), "h2", s); err == nil || errors.Is(err, domain.ErrErased) {
		t.Fatalf("open under another household: %v", err)
	}
	bad := domain.Sealed{KeyID: s.KeyID, Ciphertext: bytes.Clone(s.Ciphertext)}
	bad.Ciphertext[len(bad.Ciphertext)-1] ^= 1
	if _, err := v.Open(context.Background(), "h1", bad); err == nil {
		t.Fatal("a flipped bit must not authenticate")
	}
	if _, err := v.Open(context.Background(), "h1", domain.Sealed{KeyID: s.KeyID, Ciphertext: s.Ciphertext[:10]}); err == nil {
		t.Fatal("a truncated value must fail")
	}
	_, err := v.Open(context.Background(), "nobody", s)
	if err == nil || errors.Is(err, domain.ErrErased) {
		t.Fatalf("unknown household must be an error, not erased: %v", err)
	}
}

func TestEraseDestroysKey(t *testing.T) {
	dir := t.TempDir()
	v, fs := mustVault(t, dir)
	s, _ := v.Seal(context.Background(), "h1", []byte("低保 800 元"))
	other, _ := v.Seal(context.Background(), "h2", []byte("keep me"))
	k, err := fs.Get(context.Background(), "h1")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Erase(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}
	if err := v.Erase(context.Background(), "h1"); err != nil {
		t.Fatalf("second erase: %v", err)
	}
	for _, vv := range []*keystore.Vault{v, keystore.New(fs, keystore.Config{})} {
		if _, err := vv.Open(context.Background(), "h1", s); !errors.Is(err, domain.ErrErased) {
			t.Fatalf("open after erase: %v", err)
		}
		if r, err := domain.Reveal(context.Background(), vv, "h1", s); err != nil || !r.Erased || r.Value != "" || r.String() != "[erased]" {
			t.Fatalf("reveal after erase: %+v %v", r, err)
		}
		if _, err := vv.Seal(context.Background(), "h1", []byte("new")); !errors.Is(err, domain.ErrErased) || domain.CodeOf(err) != "household_erased" {
			t.Fatalf("seal after erase: %v", err)
		}
		if got, err := vv.Open(context.Background(), "h2", other); err != nil || string(got) != "keep me" {
			t.Fatalf("other household affected: %q %v", got, err)
		}
	}
	// The secret bytes are nowhere in the key directory any more.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if bytes.Contains(b, k.Secret) {
			t.Fatalf("%s still holds the erased key", e.Name())
		}
		if len(b) > 0 && bytes.Contains(b, []byte(`"secret"`)) && bytes.Contains(b, []byte(`"h1"`)) {
			t.Fatalf("%s still holds a secret for h1", e.Name())
		}
	}
	// Erasing a household that never had a key leaves a tombstone too.
	if err := v.Erase(context.Background(), "h3"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Seal(context.Background(), "h3", []byte("x")); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("seal for erased-before-use household: %v", err)
	}
}

func TestFileStoreModesAndAtomicity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	v, _ := mustVault(t, dir)
	if _, err := v.Seal(context.Background(), "h1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := v.Erase(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Seal(context.Background(), "h2", []byte("x")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v %v", st.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("want 2 key files and no temporary files, got %d", len(entries))
	}
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 || filepath.Ext(e.Name()) != ".key" {
			t.Fatalf("%s: mode %v", e.Name(), info.Mode())
		}
	}
}

func TestConcurrentFirstSealAgreesOnOneKey(t *testing.T) {
	dir := t.TempDir()
	fs, _ := keystore.OpenFileStore(dir)
	// Several vaults over one directory race to create the key: one wins,
	// all use it.
	var wg sync.WaitGroup
	sealed := make([]domain.Sealed, 8)
	for i := range sealed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := keystore.New(fs, keystore.Config{}).Seal(context.Background(), "h1", []byte("v"))
			if err != nil {
				t.Error(err)
			}
			sealed[i] = s
		}()
	}
	wg.Wait()
	v := keystore.New(fs, keystore.Config{})
	for _, s := range sealed {
		if s.KeyID != sealed[0].KeyID {
			t.Fatalf("key ids differ: %s %s", s.KeyID, sealed[0].KeyID)
		}
		if got, err := v.Open(context.Background(), "h1", s); err != nil || string(got) != "v" {
			t.Fatalf("open: %q %v", got, err)
		}
	}
}

func TestFingerprintKeyedAndErased(t *testing.T) {
	v, _ := mustVault(t, t.TempDir())
	a1, _ := v.Fingerprint(context.Background(), "h1", []byte("110101194801010023"))
	a2, _ := v.Fingerprint(context.Background(), "h1", []byte("110101194801010023"))
	b, _ := v.Fingerprint(context.Background(), "h2", []byte("110101194801010023"))
	c, _ := v.Fingerprint(context.Background(), "h1", []byte("110101194801010024"))
	if !bytes.Equal(a1, a2) || bytes.Equal(a1, b) || bytes.Equal(a1, c) || len(a1) != 32 {
		t.Fatal("fingerprint must be stable per household and value, and differ across households and values")
	}
	if err := v.Erase(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Fingerprint(context.Background(), "h1", []byte("x")); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("fingerprint after erase: %v", err)
	}
}

func TestKeyRecordsTimes(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	fs, _ := keystore.OpenFileStore(t.TempDir())
	v := keystore.New(fs, keystore.Config{Now: func() time.Time { return now }})
	if _, err := v.Seal(context.Background(), "h1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	if err := v.Erase(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}
	k, err := fs.Get(context.Background(), "h1")
	if err != nil || !k.Erased() || k.Secret != nil || !k.CreatedAt.Equal(now.Add(-time.Hour)) || !k.ErasedAt.Equal(now) || k.KeyID == "" {
		t.Fatalf("tombstone = %+v %v", k, err)
	}
}

func TestEraseRecoversFromTornErase(t *testing.T) {
	dir := t.TempDir()
	v, fs := mustVault(t, dir)
	s, _ := v.Seal(context.Background(), "h1", []byte("x"))
	// A crash after the in-place overwrite left a zeroed key file.
	files, _ := filepath.Glob(filepath.Join(dir, "*.key"))
	if len(files) != 1 {
		t.Fatalf("%d key files", len(files))
	}
	if err := os.WriteFile(files[0], make([]byte, 120), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Get(context.Background(), "h1"); err == nil {
		t.Fatal("a zeroed key file must not parse")
	}
	fresh := keystore.New(fs, keystore.Config{})
	if err := fresh.Erase(context.Background(), "h1"); err != nil {
		t.Fatalf("erase after a torn erase: %v", err)
	}
	if _, err := fresh.Open(context.Background(), "h1", s); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("open: %v", err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	fs, _ := keystore.OpenFileStore(t.TempDir())
	v := keystore.New(fs, keystore.Config{CacheSize: 2})
	var sealed []domain.Sealed
	for _, h := range []string{"a", "b", "c", "d"} {
		s, err := v.Seal(context.Background(), h, []byte("v-"+h))
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, s)
	}
	// Evicted keys are read back from the store, never regenerated.
	for i, h := range []string{"a", "b", "c", "d"} {
		if got, err := v.Open(context.Background(), h, sealed[i]); err != nil || string(got) != "v-"+h {
			t.Fatalf("%s: %q %v", h, got, err)
		}
	}
}
