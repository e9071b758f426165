package keystore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/keystore"
)

// testKeyStore checks the behaviour every KeyStore must have, as the
// interface's comments state it. newStore returns an empty store; each
// subtest gets its own.
func testKeyStore(t *testing.T, newStore func(t *testing.T) keystore.KeyStore) {
	// Times at microsecond precision in UTC, which every store keeps exactly.
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 123456000, time.UTC)
	key := func(h string, fill byte) keystore.Key {
		return keystore.Key{HouseholdID: h, KeyID: "k-" + h + "-" + fmt.Sprint(fill), Secret: bytes.Repeat([]byte{fill}, keystore.KeySize), CreatedAt: t0}
	}
	sameKey := func(t *testing.T, got, want keystore.Key) {
		t.Helper()
		if got.HouseholdID != want.HouseholdID || got.KeyID != want.KeyID || !bytes.Equal(got.Secret, want.Secret) ||
			!got.CreatedAt.Equal(want.CreatedAt) || !got.ErasedAt.Equal(want.ErasedAt) ||
			(!got.CreatedAt.IsZero() && got.CreatedAt.Location() != time.UTC) || (got.Erased() && got.ErasedAt.Location() != time.UTC) {
			t.Fatalf("got key %+v\nwant    %+v", got, want)
		}
	}

	t.Run("GetUnknown", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(context.Background(), "nobody"); !errors.Is(err, keystore.ErrNoKey) {
			t.Fatalf("get unknown household: %v, want ErrNoKey", err)
		}
	})

	t.Run("CreateGet", func(t *testing.T) {
		s := newStore(t)
		households := []string{"h1", "户-北京/朝阳 1", "o'brien; DROP TABLE data_keys --"}
		for i, h := range households {
			k := key(h, byte(i+1))
			if err := s.Create(context.Background(), k); err != nil {
				t.Fatalf("create %q: %v", h, err)
			}
		}
		for i, h := range households {
			got, err := s.Get(context.Background(), h)
			if err != nil {
				t.Fatalf("get %q: %v", h, err)
			}
			sameKey(t, got, key(h, byte(i+1)))
			if got.Erased() {
				t.Fatalf("%q: a new key reads as erased", h)
			}
		}
	})

	t.Run("CreateTwice", func(t *testing.T) {
		s := newStore(t)
		first := key("h1", 1)
		if err := s.Create(context.Background(), first); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(context.Background(), key("h1", 2)); !errors.Is(err, keystore.ErrKeyExists) {
			t.Fatalf("second create: %v, want ErrKeyExists", err)
		}
		got, err := s.Get(context.Background(), "h1")
		if err != nil {
			t.Fatal(err)
		}
		sameKey(t, got, first)
	})

	t.Run("Erase", func(t *testing.T) {
		s := newStore(t)
		k := key("h1", 1)
		if err := s.Create(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		other := key("h2", 2)
		if err := s.Create(context.Background(), other); err != nil {
			t.Fatal(err)
		}
		erasedAt := t0.Add(time.Hour)
		// Given in another zone, returned in UTC.
		if err := s.Erase(context.Background(), "h1", erasedAt.In(time.FixedZone("CST", 8*3600))); err != nil {
			t.Fatal(err)
		}
		tomb := keystore.Key{HouseholdID: "h1", KeyID: k.KeyID, CreatedAt: k.CreatedAt, ErasedAt: erasedAt}
		got, err := s.Get(context.Background(), "h1")
		if err != nil {
			t.Fatal(err)
		}
		sameKey(t, got, tomb)
		if !got.Erased() || got.Secret != nil {
			t.Fatalf("tombstone = %+v", got)
		}
		// Erasing again is not an error and keeps the first erasure.
		if err := s.Erase(context.Background(), "h1", erasedAt.Add(time.Hour)); err != nil {
			t.Fatalf("second erase: %v", err)
		}
		got, err = s.Get(context.Background(), "h1")
		if err != nil {
			t.Fatal(err)
		}
		sameKey(t, got, tomb)
		// The tombstone stops a new key.
		if err := s.Create(context.Background(), key("h1", 3)); !errors.Is(err, keystore.ErrKeyExists) {
			t.Fatalf("create after erase: %v, want ErrKeyExists", err)
		}
		if got, err = s.Get(context.Background(), "h1"); err != nil || !got.Erased() || got.Secret != nil {
			t.Fatalf("after create over tombstone: %+v %v", got, err)
		}
		// Other households are untouched.
		got, err = s.Get(context.Background(), "h2")
		if err != nil {
			t.Fatal(err)
		}
		sameKey(t, got, other)
	})

	t.Run("EraseWithoutKey", func(t *testing.T) {
		s := newStore(t)
		erasedAt := t0.Add(time.Minute)
		if err := s.Erase(context.Background(), "h9", erasedAt); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(context.Background(), "h9")
		if err != nil {
			t.Fatal(err)
		}
		sameKey(t, got, keystore.Key{HouseholdID: "h9", ErasedAt: erasedAt})
		if err := s.Create(context.Background(), key("h9", 1)); !errors.Is(err, keystore.ErrKeyExists) {
			t.Fatalf("create after erasure of a household without key: %v, want ErrKeyExists", err)
		}
	})

	t.Run("ConcurrentCreate", func(t *testing.T) {
		s := newStore(t)
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Create(context.Background(), key("h1", byte(i+1)))
			}()
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("creators %d and %d both won", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, keystore.ErrKeyExists):
				t.Fatalf("creator %d: %v", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no creator won")
		}
		got, err := s.Get(context.Background(), "h1")
		if err != nil {
			t.Fatal(err)
		}
		sameKey(t, got, key("h1", byte(winner+1)))
	})

	t.Run("Vault", func(t *testing.T) {
		s := newStore(t)
		v := keystore.New(s, keystore.Config{})
		sealed, err := v.Seal(context.Background(), "h1", []byte("110101194801010023"))
		if err != nil {
			t.Fatal(err)
		}
		// A fresh vault (empty cache) over the same store opens it.
		v2 := keystore.New(s, keystore.Config{})
		if got, err := v2.Open(context.Background(), "h1", sealed); err != nil || string(got) != "110101194801010023" {
			t.Fatalf("open in a second vault: %q %v", got, err)
		}
		if err := v.Erase(context.Background(), "h1"); err != nil {
			t.Fatal(err)
		}
		if _, err := keystore.New(s, keystore.Config{}).Open(context.Background(), "h1", sealed); !errors.Is(err, domain.ErrErased) {
			t.Fatalf("open after erase: %v", err)
		}
		if _, err := v.Seal(context.Background(), "h1", []byte("x")); !errors.Is(err, domain.ErrErased) {
			t.Fatalf("seal after erase: %v", err)
		}
	})
}

func TestFileStoreContract(t *testing.T) {
	testKeyStore(t, func(t *testing.T) keystore.KeyStore {
		s, err := keystore.OpenFileStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
