package keystore_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/keystore"
)

// BenchmarkVaultOpen is the cost of opening one sealed value (a household's
// class, as a coverage report does for every household) with the product's
// key store: a FileStore whose keys are wrapped under a KEK.
//   - cached: the key is in the vault's cache (decision 0154: the cipher is
//     derived from it on each open);
//   - store: the key is read from the key store first (a cache too small for
//     the street, or the first report after a start).
//
// cached also reports the vault's memory per cached key (bytes/key).
func BenchmarkVaultOpen(b *testing.B) {
	ctx := context.Background()
	fs, err := keystore.OpenFileStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ring, err := keystore.NewKEKRing(bytes.Repeat([]byte{7}, keystore.KEKSize))
	if err != nil {
		b.Fatal(err)
	}
	ks := keystore.WithKEK(fs, ring)
	const households = 2000
	sealer := keystore.New(ks, keystore.Config{})
	sealed := make([]domain.Sealed, households)
	ids := make([]string, households)
	for i := range sealed {
		ids[i] = fmt.Sprintf("h%05d", i)
		if sealed[i], err = sealer.Seal(ctx, ids[i], []byte("key")); err != nil {
			b.Fatal(err)
		}
	}
	open := func(b *testing.B, v *keystore.Vault, i int) {
		p, err := v.Open(ctx, ids[i%households], sealed[i%households])
		if err != nil || string(p) != "key" {
			b.Fatalf("open: %q %v", p, err)
		}
	}
	b.Run("cached", func(b *testing.B) {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		v := keystore.New(ks, keystore.Config{})
		for i := range households {
			open(b, v, i)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		perKey := float64(m1.HeapAlloc-m0.HeapAlloc) / households
		i := 0
		for b.Loop() {
			open(b, v, i)
			i++
		}
		b.ReportMetric(perKey, "bytes/key")
		runtime.KeepAlive(v)
	})
	b.Run("store", func(b *testing.B) {
		i := 0
		for b.Loop() {
			open(b, keystore.New(ks, keystore.Config{}), i)
			i++
		}
	})
}
