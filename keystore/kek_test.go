package keystore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/internal/pgtest"
	"github.com/doorstep/doorstep/keystore"
)

func newKEK(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, keystore.KEKSize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func ring(t *testing.T, current []byte, old ...[]byte) *keystore.KEKRing {
	t.Helper()
	r, err := keystore.NewKEKRing(current, old...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Both backends, their keys wrapped under a KEK, follow the contract.
func TestWrappedFileStoreContract(t *testing.T) {
	testKeyStore(t, func(t *testing.T) keystore.KeyStore {
		s, err := keystore.OpenFileStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return keystore.WithKEK(s, ring(t, newKEK(t)))
	})
}

func TestWrappedPostgresStoreContract(t *testing.T) {
	testKeyStore(t, func(t *testing.T) keystore.KeyStore {
		return keystore.WithKEK(openPG(t, freshSchema(t)), ring(t, newKEK(t)))
	})
}

// rawForms are the forms a data key would take if stored in clear: its
// bytes, hex, and base64 (how JSON writes bytes).
func rawForms(secret []byte) [][]byte {
	return [][]byte{secret, []byte(hex.EncodeToString(secret)), []byte(base64.StdEncoding.EncodeToString(secret)),
		[]byte(base64.RawStdEncoding.EncodeToString(secret)[:40])}
}

// sealSome makes n households' keys through a vault over s and returns
// their data keys in clear (as the wrapped store hands them out).
func sealSome(t *testing.T, s keystore.KeyStore, n int) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	v := keystore.New(s, keystore.Config{})
	out := map[string][]byte{}
	for i := range n {
		h := fmt.Sprintf("h%d", i)
		if _, err := v.Seal(ctx, h, []byte("13800000000")); err != nil {
			t.Fatal(err)
		}
		k, err := s.Get(ctx, h)
		if err != nil || len(k.Secret) != keystore.KeySize {
			t.Fatalf("get %s: %+v %v", h, k, err)
		}
		out[h] = k.Secret
	}
	return out
}

// grepDir fails the test if any file under dir holds any raw form of any
// key.
func grepDir(t *testing.T, dir string, keys map[string][]byte) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for h, k := range keys {
			for _, f := range rawForms(k) {
				if bytes.Contains(b, f) {
					t.Fatalf("%s holds the data key of %s in clear", p, h)
				}
			}
		}
		return nil
	})
	if err != nil || files < len(keys) {
		t.Fatalf("walked %d files (%v), want at least %d", files, err, len(keys))
	}
}

// No file of a wrapped FileStore, and no row of a wrapped PostgresStore,
// holds a data key in clear.
func TestNoDataKeyAtRestInClear(t *testing.T) {
	dir := t.TempDir()
	fs, err := keystore.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := sealSome(t, keystore.WithKEK(fs, ring(t, newKEK(t))), 20)
	grepDir(t, dir, keys)

	schema := freshSchema(t)
	pkeys := sealSome(t, keystore.WithKEK(openPG(t, schema), ring(t, newKEK(t))), 20)
	grepTable(t, schema, pkeys)
}

// grepTable fails the test if any row of data_keys (every column, as
// bytes and as text) holds any raw form of any key.
func grepTable(t *testing.T, schema string, keys map[string][]byte) {
	t.Helper()
	conn := pgtest.Connect(t)
	rows, err := conn.Query(context.Background(), `SELECT convert_to(t::text, 'UTF8'), coalesce(secret, ''::bytea), coalesce(wrapped, ''::bytea) FROM `+pgx.Identifier{schema, "data_keys"}.Sanitize()+` t`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var text, secret, wrapped []byte
		if err := rows.Scan(&text, &secret, &wrapped); err != nil {
			t.Fatal(err)
		}
		n++
		for h, k := range keys {
			for _, f := range rawForms(k) {
				if bytes.Contains(text, f) || bytes.Contains(secret, f) || bytes.Contains(wrapped, f) {
					t.Fatalf("a data_keys row holds the data key of %s in clear", h)
				}
			}
		}
	}
	if err := rows.Err(); err != nil || n < len(keys) {
		t.Fatalf("%d rows (%v), want at least %d", n, err, len(keys))
	}
}

// Rotation: a store written under KEK 1, with a key from before KEKs (in
// clear) and an erased one, is rewrapped under KEK 2 with KEK 1 still
// accepted; afterwards KEK 2 alone opens every key, KEK 1 alone opens none,
// the erased key stays erased and nothing is in clear. Run on both
// backends; on PostgreSQL two nodes rewrap at once.
func TestRotateKEK(t *testing.T) {
	for _, backend := range []string{"file", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			var inner, inner2 keystore.KeyStore
			dir, schema := t.TempDir(), ""
			if backend == "file" {
				fs, err := keystore.OpenFileStore(dir)
				if err != nil {
					t.Fatal(err)
				}
				inner, inner2 = fs, fs
			} else {
				schema = freshSchema(t)
				inner, inner2 = openPG(t, schema), openPG(t, schema)
			}
			k1, k2 := newKEK(t), newKEK(t)
			keys := sealSome(t, keystore.WithKEK(inner, ring(t, k1)), 5)
			legacy := bytes.Repeat([]byte{7}, keystore.KeySize)
			if err := inner.Create(ctx, keystore.Key{HouseholdID: "legacy", KeyID: "k-legacy", Secret: legacy, CreatedAt: time.Now().UTC()}); err != nil {
				t.Fatal(err)
			}
			keys["legacy"] = legacy
			if err := keystore.New(keystore.WithKEK(inner, ring(t, k1)), keystore.Config{}).Erase(ctx, "h0"); err != nil {
				t.Fatal(err)
			}
			delete(keys, "h0")

			rot := ring(t, k2, k1)
			var wg sync.WaitGroup
			counts := make([]int, 2)
			errs := make([]error, 2)
			for i, s := range []keystore.KeyStore{inner, inner2} {
				wg.Go(func() { counts[i], errs[i] = keystore.WithKEK(s, rot).Rewrap(ctx) })
			}
			wg.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Fatal(errs)
			}
			if got := counts[0] + counts[1]; got < len(keys) {
				t.Fatalf("rewrapped %v keys, want at least %d", counts, len(keys))
			}
			if n, err := keystore.WithKEK(inner, rot).Rewrap(ctx); err != nil || n != 0 {
				t.Fatalf("second rewrap: %d %v, want nothing to do", n, err)
			}
			only2, only1 := keystore.WithKEK(inner, ring(t, k2)), keystore.WithKEK(inner, ring(t, k1))
			for h, want := range keys {
				if k, err := only2.Get(ctx, h); err != nil || !bytes.Equal(k.Secret, want) {
					t.Fatalf("%s under KEK 2: %v", h, err)
				}
				if _, err := only1.Get(ctx, h); !errors.Is(err, keystore.ErrKEK) {
					t.Fatalf("%s under KEK 1 alone: %v, want ErrKEK", h, err)
				}
			}
			if k, err := only2.Get(ctx, "h0"); err != nil || !k.Erased() {
				t.Fatalf("erased key after rotation: %+v %v", k, err)
			}
			if backend == "file" {
				grepDir(t, dir, keys)
			} else {
				grepTable(t, schema, keys)
			}
		})
	}
}

// KEK files: a new one is 0600 and reads back; a file others may read, a
// malformed one and a wrong size are refused with a clear error.
func TestKEKFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kek")
	k, err := keystore.WriteNewKEKFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	if got, err := keystore.ReadKEKFile(p); err != nil || !bytes.Equal(got, k) {
		t.Fatalf("read back: %v", err)
	}
	if _, err := keystore.WriteNewKEKFile(p); err == nil {
		t.Fatal("an existing KEK file was overwritten")
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.ReadKEKFile(p); !errors.Is(err, keystore.ErrKEK) {
		t.Fatalf("a world-readable KEK file: %v", err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := keystore.ParseKEK([]byte(bad)); !errors.Is(err, keystore.ErrKEK) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	// A wrapped key copied to another household does not unwrap.
	fs, _ := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	ws := keystore.WithKEK(fs, ring(t, k))
	sealSome(t, ws, 2)
	a, _ := os.ReadFile(filepath.Join(dir, "keys", keyFile("h0")))
	b := bytes.Replace(a, []byte(`"household_id":"h0"`), []byte(`"household_id":"h1"`), 1)
	if err := os.WriteFile(filepath.Join(dir, "keys", keyFile("h1")), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Get(context.Background(), "h1"); !errors.Is(err, keystore.ErrKEK) {
		t.Fatalf("a wrapped key moved to another household: %v", err)
	}
}

func keyFile(householdID string) string {
	h := sha256.Sum256([]byte(householdID))
	return hex.EncodeToString(h[:]) + ".key"
}
