// Package keystore keeps the per-household data keys that encrypt sensitive
// fields (identity number, phone, income, health, disability) inside events,
// and implements domain.Sealer and domain.Opener with AES-256-GCM.
//
// Keys live apart from the event log, behind the small KeyStore interface;
// FileStore (one file per household in a directory, mode 0600, written
// atomically and fsynced) is the default. Erasing a household destroys its
// key ("crypto-shredding"): the events stay and their hash chains still
// verify, but the sealed fields can never be opened again and read as erased.
//
// At rest the keys are wrapped under a key-encrypting key the operator
// provides (WithKEK, a KEKRing with rotation; see kek.go and decision
// 0067): a store holding keys in clear is what tests and tools may open,
// the binary never writes one.
package keystore

import (
	"context"
	"errors"
	"time"
)

// KeySize is the size of a data key: AES-256.
const KeySize = 32

// Key is one household's data key, or the tombstone left when it was erased.
type Key struct {
	HouseholdID string
	KeyID       string    // identifies the key in domain.Sealed.KeyID and the event metadata
	Secret      []byte    // KeySize bytes; nil once erased, and nil when stored wrapped
	CreatedAt   time.Time // UTC
	ErasedAt    time.Time // UTC; non-zero once erased
	// Wrapped is Secret encrypted under the KEK KEKID (see WithKEK), as
	// a store keeps it; nil when Secret is given, or erased.
	Wrapped []byte
	KEKID   string
}

// Erased reports whether the key has been destroyed.
func (k Key) Erased() bool { return !k.ErasedAt.IsZero() }

// Errors of a KeyStore.
var (
	// ErrNoKey: the household has no key (it never sealed anything here).
	ErrNoKey = errors.New("keystore: no key for this household")
	// ErrKeyExists: Create found a key (or tombstone) already stored.
	ErrKeyExists = errors.New("keystore: a key already exists for this household")
)

// KeyStore stores data keys. Implementations are safe for concurrent use.
// Every method takes the caller's context: a remote store gives up when it
// ends (there is no timeout inside the store).
type KeyStore interface {
	// Get returns the household's key or its tombstone; ErrNoKey if there
	// is neither.
	Get(ctx context.Context, householdID string) (Key, error)
	// Create stores a new key if the household has neither key nor
	// tombstone; otherwise it stores nothing and returns ErrKeyExists. When
	// Create returns nil the key is durable.
	Create(ctx context.Context, k Key) error
	// Erase replaces the household's key (if any) by a tombstone recording
	// erasedAt, durably. Erasing twice, or a household without a key, is
	// not an error: the tombstone also stops new keys being created.
	Erase(ctx context.Context, householdID string, erasedAt time.Time) error
}
