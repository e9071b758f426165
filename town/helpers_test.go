package town

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// testSealer is a deterministic stand-in for the key store's AES-GCM sealer:
// the "ciphertext" is the plaintext XORed with a keystream derived from the
// household id. It hides nothing; it only makes sealed fields opaque bytes.
type testSealer struct{}

func (testSealer) Seal(_ context.Context, householdID string, plaintext []byte) (domain.Sealed, error) {
	k := sha256.Sum256([]byte(householdID))
	out := make([]byte, len(plaintext))
	for i, b := range plaintext {
		out[i] = b ^ k[i%len(k)]
	}
	return domain.Sealed{KeyID: "test-" + householdID[:8], Ciphertext: out}, nil
}

func (s testSealer) Open(_ context.Context, householdID string, sealed domain.Sealed) ([]byte, error) {
	x, _ := s.Seal(context.Background(), householdID, sealed.Ciphertext)
	return x.Ciphertext, nil
}

// openClass opens a household class the town sealed under testSealer
// (decision 0148); a clear class fails the test.
func openClass(tb testing.TB, c domain.HouseholdClass) domain.HouseholdClass {
	tb.Helper()
	if !domain.IsSealedText(string(c)) {
		tb.Fatalf("the class %q is in clear; the town seals it", c)
	}
	r, err := domain.OpenText(context.Background(), testSealer{}, string(c))
	if err != nil {
		tb.Fatal(err)
	}
	return domain.HouseholdClass(r.Value)
}

func testConfig(tb testing.TB, seed uint64, n int) Config {
	tb.Helper()
	c := DefaultConfig(seed, n)
	c.Sealer = testSealer{}
	return c
}

// The command layer's problem-number counter, spelled out here so the tests
// check the generator writes exactly what the command layer continues.
const (
	typeNumberAllocated = "counter.problem_number_allocated"
	counterPrefix       = "counter-problemno_"
)
