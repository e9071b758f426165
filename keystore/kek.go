package keystore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Keys at rest. A KeyStore may hold data keys in clear (Key.Secret), which
// tests and tools use; the binary always stores them wrapped: WithKEK wraps
// every data key with AES-256-GCM under a key-encrypting key (KEK) the
// operator provides, so the key directory or table alone (a backup, a copied
// disk, a database dump) opens nothing. A Key then carries Wrapped and
// KEKID instead of Secret.
//
// Rotation: a KEKRing holds the current KEK, which wraps, and older ones,
// which only unwrap. Rewrap re-wraps every live key that is not wrapped
// under the current KEK (or not wrapped at all: the upgrade of a store
// written before KEKs) and leaves erased keys erased.

// KEKSize is the size of a key-encrypting key: AES-256.
const KEKSize = 32

// maxWrapped bounds a stored wrapped key (nonce, key, tag with room).
const maxWrapped = 256

const kekAAD = "doorstep.kek.v1\x00"

// ErrKEK is the kind of the errors of a KEK that is missing, malformed or
// not the one a key was wrapped with.
var ErrKEK = errors.New("keystore: key-encrypting key")

// KEKRing is the current KEK and the older ones still accepted. Safe for
// concurrent use.
type KEKRing struct {
	current kek
	old     []kek
	rand    io.Reader
}

type kek struct {
	id   string
	aead cipher.AEAD
}

// NewKEKRing makes a ring from the current KEK and older ones (each KEKSize
// bytes).
func NewKEKRing(current []byte, old ...[]byte) (*KEKRing, error) {
	c, err := newKEK(current)
	if err != nil {
		return nil, err
	}
	r := &KEKRing{current: c, rand: rand.Reader}
	for _, o := range old {
		k, err := newKEK(o)
		if err != nil {
			return nil, err
		}
		if k.id != c.id {
			r.old = append(r.old, k)
		}
	}
	return r, nil
}

func newKEK(b []byte) (kek, error) {
	if len(b) != KEKSize {
		return kek{}, fmt.Errorf("%w: it has %d bytes, want %d (32 random bytes, base64-encoded in the file or variable)", ErrKEK, len(b), KEKSize)
	}
	block, err := aes.NewCipher(b)
	if err != nil {
		return kek{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return kek{}, err
	}
	return kek{id: KEKID(b), aead: aead}, nil
}

// KEKID names a KEK without revealing it: "kek-" and 16 hex digits of a
// SHA-256 of it.
func KEKID(b []byte) string {
	h := sha256.Sum256(append([]byte("doorstep kek id\x00"), b...))
	return "kek-" + hex.EncodeToString(h[:8])
}

// CurrentID is the id of the KEK that wraps.
func (r *KEKRing) CurrentID() string { return r.current.id }

func wrapAAD(householdID, keyID string) []byte {
	return []byte(kekAAD + householdID + "\x00" + keyID)
}

// wrap seals a data key under the current KEK, bound to its household and
// key id (a wrapped key copied to another household does not unwrap).
func (r *KEKRing) wrap(householdID, keyID string, secret []byte) ([]byte, string, error) {
	nonce := make([]byte, nonceBytes, nonceBytes+len(secret)+r.current.aead.Overhead())
	if _, err := io.ReadFull(r.rand, nonce); err != nil {
		return nil, "", fmt.Errorf("keystore: generate nonce: %w", err)
	}
	return r.current.aead.Seal(nonce, nonce, secret, wrapAAD(householdID, keyID)), r.current.id, nil
}

// unwrap opens a wrapped data key with the KEK named kekID.
func (r *KEKRing) unwrap(householdID, keyID, kekID string, wrapped []byte) ([]byte, error) {
	var k *kek
	if r.current.id == kekID {
		k = &r.current
	}
	for i := range r.old {
		if r.old[i].id == kekID {
			k = &r.old[i]
		}
	}
	if k == nil {
		return nil, fmt.Errorf("%w: the data key of household %s is wrapped with %s, which is neither the current KEK (%s) nor an old one given; give that KEK (-kek-old-file) to read it", ErrKEK, householdID, kekID, r.current.id)
	}
	if len(wrapped) < nonceBytes+k.aead.Overhead() {
		return nil, fmt.Errorf("keystore: the wrapped data key of household %s is too short", householdID)
	}
	secret, err := k.aead.Open(nil, wrapped[:nonceBytes], wrapped[nonceBytes:], wrapAAD(householdID, keyID))
	if err != nil || len(secret) != KeySize {
		return nil, fmt.Errorf("%w: the data key of household %s does not unwrap with %s (altered, or wrapped for another household)", ErrKEK, householdID, kekID)
	}
	return secret, nil
}

// ParseKEK reads a KEK as the operator gives it: 32 bytes in standard
// base64 (surrounding white space ignored).
func ParseKEK(text []byte) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(text)))
	if err != nil {
		return nil, fmt.Errorf("%w: not base64 (%v); make one with `doorstep keys new-kek -o FILE`", ErrKEK, err)
	}
	if len(b) != KEKSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d; make one with `doorstep keys new-kek -o FILE`", ErrKEK, len(b), KEKSize)
	}
	return b, nil
}

// ReadKEKFile reads a KEK file; it must not be readable by others (mode
// 0600 or stricter).
func ReadKEKFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKEK, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v; allow only its owner (chmod 600 %s)", ErrKEK, path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKEK, err)
	}
	k, err := ParseKEK(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// WriteNewKEKFile creates path (which must not exist) holding a new random
// KEK, mode 0600, fsynced, and returns the KEK.
func WriteNewKEKFile(path string) ([]byte, error) {
	k := make([]byte, KEKSize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: create %s: %v", ErrKEK, path, err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("%w: write %s: %v", ErrKEK, path, err)
	}
	return k, nil
}

// Rewrapper is a KeyStore that can replace the stored form of its live
// keys (FileStore, PostgresStore).
type Rewrapper interface {
	// Rewrap calls f with every live (not erased) key as stored, and stores
	// the key f returns when f says it changed, unless the key was erased
	// or changed meanwhile (then it is left as it is). It returns how many
	// keys it replaced.
	Rewrap(ctx context.Context, f func(Key) (Key, bool, error)) (int, error)
}

// WrappedStore is a KeyStore that stores data keys wrapped under a KEKRing
// in another KeyStore, and hands them out unwrapped.
type WrappedStore struct {
	inner KeyStore
	ring  *KEKRing
}

var _ KeyStore = (*WrappedStore)(nil)

// WithKEK wraps the keys of inner under ring.
func WithKEK(inner KeyStore, ring *KEKRing) *WrappedStore {
	return &WrappedStore{inner: inner, ring: ring}
}

// Get implements KeyStore: the key unwrapped. A key stored in clear (by a
// binary from before KEKs, not yet rewrapped) is returned as it is.
func (s *WrappedStore) Get(ctx context.Context, householdID string) (Key, error) {
	k, err := s.inner.Get(ctx, householdID)
	if err != nil || k.Erased() || k.Wrapped == nil {
		return k, err
	}
	secret, err := s.ring.unwrap(householdID, k.KeyID, k.KEKID, k.Wrapped)
	if err != nil {
		return Key{}, err
	}
	k.Secret, k.Wrapped, k.KEKID = secret, nil, ""
	return k, nil
}

// Create implements KeyStore: the key is stored wrapped under the current
// KEK.
func (s *WrappedStore) Create(ctx context.Context, k Key) error {
	if !k.Erased() {
		w, id, err := s.ring.wrap(k.HouseholdID, k.KeyID, k.Secret)
		if err != nil {
			return err
		}
		k.Secret, k.Wrapped, k.KEKID = nil, w, id
	}
	return s.inner.Create(ctx, k)
}

// Erase implements KeyStore.
func (s *WrappedStore) Erase(ctx context.Context, householdID string, erasedAt time.Time) error {
	return s.inner.Erase(ctx, householdID, erasedAt)
}

// Rewrap wraps under the current KEK every live key that is stored in clear
// or under another KEK, and returns how many it rewrapped. Several
// processes may run it at once.
func (s *WrappedStore) Rewrap(ctx context.Context) (int, error) {
	rw, ok := s.inner.(Rewrapper)
	if !ok {
		return 0, fmt.Errorf("keystore: %T cannot rewrap its keys", s.inner)
	}
	return rw.Rewrap(ctx, func(k Key) (Key, bool, error) {
		if k.KEKID == s.ring.current.id && k.Wrapped != nil {
			return k, false, nil
		}
		secret := k.Secret
		if k.Wrapped != nil {
			var err error
			if secret, err = s.ring.unwrap(k.HouseholdID, k.KeyID, k.KEKID, k.Wrapped); err != nil {
				return k, false, err
			}
		}
		w, id, err := s.ring.wrap(k.HouseholdID, k.KeyID, secret)
		if err != nil {
			return k, false, err
		}
		k.Secret, k.Wrapped, k.KEKID = nil, w, id
		return k, true, nil
	})
}
