package keystore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/clock"
)

// Config tunes a Vault. The zero value is ready to use.
type Config struct {
	// Now stamps key creation and erasure; default clock.Now (internal/clock).
	Now func() time.Time
	// Rand supplies keys and nonces; default crypto/rand.Reader.
	Rand io.Reader
	// CacheSize bounds how many households' (and members') keys are kept
	// in memory; default DefaultCacheSize. Beyond it an arbitrary entry is
	// dropped (and read again from the KeyStore when needed). An entry
	// keeps the key and its id, not the cipher built from it (decision
	// 0154), about 180 bytes: a cache that holds a whole street lets a
	// report open every household's class without reading the KeyStore.
	CacheSize int
	// CacheTTL, when > 0, is how long (by Now) a cached key is used before
	// it is read again from the KeyStore. Set it when other processes share
	// the KeyStore (PostgresStore): it bounds how long their erasure of a
	// key can go unseen here. Tombstones are never re-read, as erasure is
	// final. The default 0 keeps a key until it is evicted.
	CacheTTL time.Duration
}

// Vault seals and opens sensitive fields with AES-256-GCM under each
// household's data key from a KeyStore. The household id (with the key id)
// is bound as additional authenticated data, so a sealed value copied into
// another household's event does not open. It implements domain.Sealer and
// domain.Opener and is safe for concurrent use.
//
// Sealed.Ciphertext is the 12-byte random nonce followed by the GCM output
// (ciphertext and 16-byte tag).
type Vault struct {
	keys     KeyStore
	now      func() time.Time
	rand     io.Reader
	maxCache int
	ttl      time.Duration

	mu    sync.Mutex
	cache map[string]*entry // by household id; tombstones too
	// flight shares one KeyStore read among the callers that miss the
	// cache for the same household at once; reads for different
	// households run in parallel, outside mu (the store may be remote).
	flight singleflight.Group
}

// entry is a cached key: only what sealing and opening need, so that a
// cache of a whole street stays small (decision 0154). The AES-GCM cipher
// and the fingerprint key are derived from secret on each use: about a
// microsecond, against about 1 kB kept per household.
type entry struct {
	keyID  string
	secret [KeySize]byte // zero when erased
	erased bool
	read   time.Time // when the key was read from the KeyStore, by Vault.now
}

// aead is the key's AES-256-GCM cipher. The entry must not be erased.
func (e *entry) aead(householdID string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(e.secret[:])
	if err != nil {
		return nil, fmt.Errorf("keystore: key of household %s: %w", householdID, err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keystore: key of household %s: %w", householdID, err)
	}
	return g, nil
}

// DefaultCacheSize is a Vault's default key cache: the households of a
// large street office (the 100,000-household town of issue 15) with room
// for members' own keys, about 36 MB when full.
const DefaultCacheSize = 200_000

var (
	_ domain.Sealer     = (*Vault)(nil)
	_ domain.Opener     = (*Vault)(nil)
	_ domain.KeyChecker = (*Vault)(nil)
)

// New returns a Vault over keys.
func New(keys KeyStore, cfg Config) *Vault {
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	return &Vault{keys: keys, now: cfg.Now, rand: cfg.Rand, maxCache: cfg.CacheSize, ttl: cfg.CacheTTL, cache: map[string]*entry{}}
}

const (
	aadPrefix  = "doorstep.sealed.v1\x00"
	macInfo    = "doorstep command fingerprint v1"
	nonceBytes = 12
)

func aad(householdID, keyID string) []byte {
	return []byte(aadPrefix + householdID + "\x00" + keyID)
}

// ErasedError is the *domain.Error returned when sensitive data of an
// erased household is sealed or fingerprinted: the household's personal
// data was erased and new personal data is not accepted for it.
func ErasedError(householdID string) *domain.Error {
	if hh, member, ok := strings.Cut(householdID, "/"); ok { // a member's subject
		return &domain.Error{Kind: domain.ErrErased, Code: "household_erased", Field: "member_id",
			Message:   fmt.Sprintf("the personal data of member %s of household %s has been erased; sensitive fields can no longer be stored or read for them", member, hh),
			MessageZH: fmt.Sprintf("家庭 %s 的成员 %s 的个人信息已被删除；不能再为其保存或读取敏感信息", hh, member)}
	}
	return &domain.Error{Kind: domain.ErrErased, Code: "household_erased", Field: "household_id",
		Message:   fmt.Sprintf("the personal data of household %s has been erased; sensitive fields can no longer be stored or read for it", householdID),
		MessageZH: fmt.Sprintf("家庭 %s 的个人信息已被删除；不能再为其保存或读取敏感信息", householdID)}
}

// entry returns the household's cached key, loading it (or reloading it
// once older than the cache TTL), and creating it when create is true and
// the household has none.
func (v *Vault) entry(ctx context.Context, householdID string, create bool) (*entry, error) {
	if householdID == "" {
		return nil, errors.New("keystore: the household id is empty")
	}
	v.mu.Lock()
	e, ok := v.cache[householdID]
	v.mu.Unlock()
	if ok && v.fresh(e) {
		return e, nil
	}
	flight := "get\x00" + householdID
	if create {
		flight = "create\x00" + householdID
	}
	for {
		// The read runs with the context of the caller that started it;
		// each caller waits only as long as its own context allows, and
		// one whose read was abandoned by another's cancelled context
		// reads again.
		ch := v.flight.DoChan(flight, func() (any, error) { return v.fetch(ctx, householdID, create) })
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case r := <-ch:
			if r.Err != nil {
				if ctx.Err() == nil && (errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded)) {
					continue
				}
				return nil, r.Err
			}
			return r.Val.(*entry), nil
		}
	}
}

// fetch reads (or, with create, creates) the household's key from the
// KeyStore and caches it. An erasure made on this Vault meanwhile wins over
// a key read before it.
func (v *Vault) fetch(ctx context.Context, householdID string, create bool) (*entry, error) {
	read := v.now()
	k, err := v.keys.Get(ctx, householdID)
	if errors.Is(err, ErrNoKey) && create {
		k, err = v.create(ctx, householdID)
	}
	if err != nil {
		return nil, err
	}
	e, err := newEntry(householdID, k, read)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.cache[householdID]; ok && old.erased && !e.erased {
		return old, nil
	}
	v.put(householdID, e)
	return e, nil
}

// newEntry is the cache entry of k, read at read.
func newEntry(householdID string, k Key, read time.Time) (*entry, error) {
	e := &entry{keyID: k.KeyID, erased: k.Erased(), read: read}
	if e.erased {
		return e, nil
	}
	if k.Secret == nil {
		return nil, fmt.Errorf("keystore: the data key of household %s is stored wrapped under %s; open the key store with its key-encrypting key (WithKEK)", householdID, k.KEKID)
	}
	if len(k.Secret) != KeySize {
		return nil, fmt.Errorf("keystore: key of household %s: a key of %d bytes, want %d", householdID, len(k.Secret), KeySize)
	}
	copy(e.secret[:], k.Secret)
	return e, nil
}

// fresh reports whether a cached entry may be used without reading the
// KeyStore again.
func (v *Vault) fresh(e *entry) bool {
	return v.ttl <= 0 || e.erased || v.now().Sub(e.read) < v.ttl
}

// put caches e, dropping an arbitrary entry when the cache is full. Called
// with v.mu held.
func (v *Vault) put(householdID string, e *entry) {
	if _, ok := v.cache[householdID]; !ok && len(v.cache) >= v.maxCache {
		for k := range v.cache {
			delete(v.cache, k)
			break
		}
	}
	v.cache[householdID] = e
}

// create makes and stores a new key; if another writer stored one first, it
// returns that one.
func (v *Vault) create(ctx context.Context, householdID string) (Key, error) {
	secret := make([]byte, KeySize)
	if _, err := io.ReadFull(v.rand, secret); err != nil {
		return Key{}, fmt.Errorf("keystore: generate key: %w", err)
	}
	id, err := uuid.NewRandomFromReader(v.rand)
	if err != nil {
		return Key{}, fmt.Errorf("keystore: generate key id: %w", err)
	}
	keyID := "k-" + id.String()
	if hh, member, ok := strings.Cut(householdID, "/"); ok && hh != "" && member != "" {
		// A member's own key (domain.MemberSubject): its id names the
		// member after the fixed-length UUID, so that Open finds it.
		keyID = domain.MemberKeyPrefix + id.String() + "-" + member
	}
	k := Key{HouseholdID: householdID, KeyID: keyID, Secret: secret, CreatedAt: v.now().UTC()}
	err = v.keys.Create(ctx, k)
	if errors.Is(err, ErrKeyExists) {
		return v.keys.Get(ctx, householdID)
	}
	return k, err
}

// Seal implements domain.Sealer. The household's key is created on first
// use. Sealing for an erased household fails with ErasedError (matching
// domain.ErrErased).
// The key store is read (and written) under ctx, the caller's.
//
// householdID may be a member's subject (domain.MemberSubject): the value
// is then sealed under the member's own key, created on first use, which
// can be erased alone; the household's erasure stops it too.
func (v *Vault) Seal(ctx context.Context, householdID string, plaintext []byte) (domain.Sealed, error) {
	if err := v.householdErased(ctx, householdID); err != nil {
		return domain.Sealed{}, err
	}
	e, err := v.entry(ctx, householdID, true)
	if err != nil {
		return domain.Sealed{}, err
	}
	if e.erased {
		return domain.Sealed{}, ErasedError(householdID)
	}
	g, err := e.aead(householdID)
	if err != nil {
		return domain.Sealed{}, err
	}
	nonce := make([]byte, nonceBytes, nonceBytes+len(plaintext)+g.Overhead())
	if _, err := io.ReadFull(v.rand, nonce); err != nil {
		return domain.Sealed{}, fmt.Errorf("keystore: generate nonce: %w", err)
	}
	ct := g.Seal(nonce, nonce, plaintext, aad(householdID, e.keyID))
	return domain.Sealed{KeyID: e.keyID, Ciphertext: ct}, nil
}

// Open implements domain.Opener. It returns an error matching
// domain.ErrErased when the household's key was erased; any other failure
// (no key at all, a key id of another key, a value altered or sealed for
// another household) is a plain error. Errors never contain the plaintext.
// The key store is read under ctx, the caller's.
//
// A value sealed under a member's own key (its key id names the member) is
// opened with that key: callers pass the household id either way.
func (v *Vault) Open(ctx context.Context, householdID string, s domain.Sealed) ([]byte, error) {
	householdID = subjectOf(householdID, s.KeyID)
	e, err := v.entry(ctx, householdID, false)
	if errors.Is(err, ErrNoKey) {
		return nil, fmt.Errorf("keystore: household %s has no data key in this key store; check that the right key directory is configured", householdID)
	}
	if err != nil {
		return nil, err
	}
	if e.erased {
		return nil, fmt.Errorf("keystore: household %s: %w", householdID, domain.ErrErased)
	}
	if s.KeyID != e.keyID {
		return nil, fmt.Errorf("keystore: household %s: value sealed with key %q, but the household's key is %q", householdID, s.KeyID, e.keyID)
	}
	g, err := e.aead(householdID)
	if err != nil {
		return nil, err
	}
	if len(s.Ciphertext) < nonceBytes+g.Overhead() {
		return nil, fmt.Errorf("keystore: household %s: sealed value is too short", householdID)
	}
	pt, err := g.Open(nil, s.Ciphertext[:nonceBytes], s.Ciphertext[nonceBytes:], aad(householdID, e.keyID))
	if err != nil {
		return nil, fmt.Errorf("keystore: household %s: sealed value does not authenticate (altered, or sealed for another household)", householdID)
	}
	return pt, nil
}

// Fingerprint returns HMAC-SHA256 of data under a key derived (HKDF) from
// the household's data key. The command layer uses it to recognise a retried
// command that carries sensitive fields without keeping a guessable hash of
// them: once the key is erased the fingerprint cannot be recomputed. Like
// Seal it creates the key on first use and fails with ErasedError after
// erasure.
func (v *Vault) Fingerprint(ctx context.Context, householdID string, data []byte) ([]byte, error) {
	if err := v.householdErased(ctx, householdID); err != nil {
		return nil, err
	}
	e, err := v.entry(ctx, householdID, true)
	if err != nil {
		return nil, err
	}
	if e.erased {
		return nil, ErasedError(householdID)
	}
	mac, err := hkdf.Key(sha256.New, e.secret[:], nil, macInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("keystore: key of household %s: %w", householdID, err)
	}
	m := hmac.New(sha256.New, mac)
	m.Write(data)
	return m.Sum(nil), nil
}

// KeyID returns the id of the household's data key ("" if it has none).
func (v *Vault) KeyID(ctx context.Context, householdID string) (string, error) {
	e, err := v.entry(ctx, householdID, false)
	if errors.Is(err, ErrNoKey) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return e.keyID, nil
}

// Erase destroys the household's data key (crypto-shredding under PIPL):
// afterwards its sealed fields open as erased and no new sensitive data is
// accepted for it. Erasing twice is not an error. When Erase returns nil the
// erasure is durable.
func (v *Vault) Erase(ctx context.Context, householdID string) error {
	if householdID == "" {
		return errors.New("keystore: the household id is empty")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.keys.Erase(ctx, householdID, v.now()); err != nil {
		return err
	}
	read := v.now()
	k, err := v.keys.Get(ctx, householdID)
	if err == nil {
		var e *entry
		if e, err = newEntry(householdID, k, read); err == nil {
			v.put(householdID, e)
			return nil
		}
	}
	delete(v.cache, householdID)
	return err
}

// subjectOf is the key-store subject a value sealed under keyID for
// householdID belongs to: the household, or for a member's own key
// ("km-" UUID "-" member id) the member's subject.
func subjectOf(householdID, keyID string) string {
	const uuidLen = 36
	if rest, ok := strings.CutPrefix(keyID, domain.MemberKeyPrefix); ok && len(rest) > uuidLen+1 && rest[uuidLen] == '-' {
		return domain.MemberSubject(householdID, rest[uuidLen+1:])
	}
	return householdID
}

// householdErased refuses a member's subject of an erased household: its
// erasure stops new personal data of its members too (a member added after
// it would otherwise get a fresh key).
func (v *Vault) householdErased(ctx context.Context, subject string) error {
	hh, _, ok := strings.Cut(subject, "/")
	if !ok {
		return nil
	}
	e, err := v.entry(ctx, hh, false)
	if errors.Is(err, ErrNoKey) {
		return nil
	}
	if err != nil {
		return err
	}
	if e.erased {
		return ErasedError(hh)
	}
	return nil
}

// Erased reports, without opening it, whether the key s was sealed with
// (the household's or a member's) has been destroyed: masked views show an
// erased field as erased, not as masked. It implements domain.KeyChecker.
func (v *Vault) Erased(ctx context.Context, householdID string, s domain.Sealed) (bool, error) {
	if s.IsZero() {
		return false, nil
	}
	e, err := v.entry(ctx, subjectOf(householdID, s.KeyID), false)
	if errors.Is(err, ErrNoKey) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return e.erased, nil
}
