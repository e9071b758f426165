package keystore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorstep/doorstep/keystore"
)

// gatedStore holds every Get until open is closed, counting the Gets in
// flight and in all.
type gatedStore struct {
	keystore.KeyStore
	open     chan struct{}
	inFlight atomic.Int32
	peak     atomic.Int32
	gets     atomic.Int32
}

func (g *gatedStore) Get(ctx context.Context, id string) (keystore.Key, error) {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	g.gets.Add(1)
	<-g.open
	return g.KeyStore.Get(ctx, id)
}

// A Vault reads different households' keys in parallel (a slow or remote
// KeyStore does not queue every seal and open behind one read), and callers
// that miss the cache for the same household share one read.
func TestVaultReadsKeysInParallel(t *testing.T) {
	fs, err := keystore.OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writer := keystore.New(fs, keystore.Config{})
	const households = 6
	sealed := map[string][]byte{}
	for i := range households {
		id := string(rune('a' + i))
		s, err := writer.Seal(context.Background(), id, []byte("13800000000"))
		if err != nil {
			t.Fatal(err)
		}
		sealed[id] = s.Ciphertext
	}
	// Several distinct households at once: all their reads are in flight
	// together before any is let through.
	g := &gatedStore{KeyStore: fs, open: make(chan struct{})}
	v := keystore.New(g, keystore.Config{})
	var wg sync.WaitGroup
	for id := range sealed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Fingerprint(context.Background(), id, []byte("x")); err != nil {
				t.Error(err)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for g.inFlight.Load() < households && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := g.inFlight.Load(); n < households {
		close(g.open)
		wg.Wait()
		t.Fatalf("only %d of %d key reads were in flight at once: the vault serialises them", n, households)
	}
	close(g.open)
	wg.Wait()

	// Many callers, one household, empty cache: one read.
	g2 := &gatedStore{KeyStore: fs, open: make(chan struct{})}
	v2 := keystore.New(g2, keystore.Config{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v2.Fingerprint(context.Background(), "a", []byte("x")); err != nil {
				t.Error(err)
			}
		}()
	}
	for g2.inFlight.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the other callers arrive
	close(g2.open)
	wg.Wait()
	if n := g2.gets.Load(); n != 1 {
		t.Fatalf("16 callers for one household read its key %d times, want 1", n)
	}
}
