package keystore_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/keystore"
)

// countingStore counts Get calls on a KeyStore.
type countingStore struct {
	keystore.KeyStore
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, householdID string) (keystore.Key, error) {
	c.gets.Add(1)
	return c.KeyStore.Get(ctx, householdID)
}

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestVaultCacheTTL(t *testing.T) {
	fs, err := keystore.OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	// Node A erases; node B caches with a TTL of a minute; node C caches
	// without TTL (the default). All share one key store.
	a := keystore.New(fs, keystore.Config{Now: clock.Now})
	bStore := &countingStore{KeyStore: fs}
	b := keystore.New(bStore, keystore.Config{Now: clock.Now, CacheTTL: time.Minute})
	c := keystore.New(fs, keystore.Config{Now: clock.Now})

	sealed, err := a.Seal(context.Background(), "h1", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []*keystore.Vault{b, c} {
		if _, err := v.Open(context.Background(), "h1", sealed); err != nil {
			t.Fatal(err)
		}
	}
	if n := bStore.gets.Load(); n != 1 {
		t.Fatalf("%d reads of the key store, want 1", n)
	}
	// Within the TTL the cached key is used without reading the store.
	clock.Add(59 * time.Second)
	if _, err := b.Open(context.Background(), "h1", sealed); err != nil {
		t.Fatal(err)
	}
	if n := bStore.gets.Load(); n != 1 {
		t.Fatalf("%d reads of the key store within the TTL, want 1", n)
	}
	// Past the TTL a live key is read again (and still works).
	clock.Add(time.Second)
	if _, err := b.Open(context.Background(), "h1", sealed); err != nil {
		t.Fatal(err)
	}
	if n := bStore.gets.Load(); n != 2 {
		t.Fatalf("%d reads of the key store after the TTL, want 2", n)
	}

	// Another vault erases. Within B's TTL B still uses its cached key.
	if err := a.Erase(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}
	clock.Add(30 * time.Second)
	if _, err := b.Open(context.Background(), "h1", sealed); err != nil {
		t.Fatalf("within the TTL: %v", err)
	}
	// Once the TTL has passed, B sees the erasure.
	clock.Add(30 * time.Second)
	if _, err := b.Open(context.Background(), "h1", sealed); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("after the TTL: %v, want erased", err)
	}
	if _, err := b.Seal(context.Background(), "h1", []byte("new")); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("seal after the TTL: %v, want erased", err)
	}
	// A tombstone is final: it is not read again.
	n := bStore.gets.Load()
	clock.Add(24 * time.Hour)
	if _, err := b.Open(context.Background(), "h1", sealed); !errors.Is(err, domain.ErrErased) {
		t.Fatal(err)
	}
	if got := bStore.gets.Load(); got != n {
		t.Fatalf("tombstone read again: %d reads, want %d", got, n)
	}
	// Without a TTL the key is cached until evicted, however old.
	clock.Add(365 * 24 * time.Hour)
	if _, err := c.Open(context.Background(), "h1", sealed); err != nil {
		t.Fatalf("vault without TTL: %v", err)
	}
}

func TestVaultCacheTTLConcurrent(t *testing.T) {
	fs, err := keystore.OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// A TTL of 1 ns on the real clock: nearly every call re-reads the key
	// while other goroutines use it (run with -race).
	v := keystore.New(fs, keystore.Config{CacheTTL: time.Nanosecond})
	sealed, err := v.Seal(context.Background(), "h1", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if pt, err := v.Open(context.Background(), "h1", sealed); err != nil || string(pt) != "v" {
					t.Errorf("open: %q %v", pt, err)
					return
				}
				if _, err := v.Seal(context.Background(), "h1", []byte("w")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// memStore keeps keys in a map. The vault's cache is what its test checks,
// not the store: 5,000 fsynced key files would take about 9 s here, and the
// file store is exercised by the contract tests.
type memStore struct {
	mu   sync.Mutex
	keys map[string]keystore.Key
}

func (m *memStore) Get(_ context.Context, id string) (keystore.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return keystore.Key{}, keystore.ErrNoKey
	}
	return k, nil
}

func (m *memStore) Create(_ context.Context, k keystore.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[k.HouseholdID]; ok {
		return keystore.ErrKeyExists
	}
	m.keys[k.HouseholdID] = k
	return nil
}

func (m *memStore) Erase(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.keys[id]
	m.keys[id] = keystore.Key{HouseholdID: id, KeyID: k.KeyID, CreatedAt: k.CreatedAt, ErasedAt: at}
	return nil
}

// TestDefaultCacheHoldsAStreet: with the default configuration, a report
// that opens more households' values than the old 4,096-key cache held
// reads no key from the store the second time (decision 0154), and an
// erasure still shows at once.
func TestDefaultCacheHoldsAStreet(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{KeyStore: &memStore{keys: map[string]keystore.Key{}}}
	v := keystore.New(store, keystore.Config{})
	const households = 5000
	sealed := make([]domain.Sealed, households)
	id := func(i int) string { return "h" + strconv.Itoa(i) }
	for i := range households {
		var err error
		if sealed[i], err = v.Seal(ctx, id(i), []byte("key")); err != nil {
			t.Fatal(err)
		}
	}
	before := store.gets.Load()
	for i := range households {
		if p, err := v.Open(ctx, id(i), sealed[i]); err != nil || string(p) != "key" {
			t.Fatalf("%s: %q %v", id(i), p, err)
		}
	}
	if n := store.gets.Load() - before; n != 0 {
		t.Fatalf("opening %d households' values read %d keys from the store; the default cache should hold them all", households, n)
	}
	if err := v.Erase(ctx, id(7)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(ctx, id(7), sealed[7]); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("open after erasure: %v, want erased", err)
	}
	if p, err := v.Open(ctx, id(8), sealed[8]); err != nil || string(p) != "key" {
		t.Fatalf("a neighbour after the erasure: %q %v", p, err)
	}
	if _, err := v.Fingerprint(ctx, id(7), []byte("x")); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("fingerprint after erasure: %v, want erased", err)
	}
}
