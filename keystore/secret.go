package keystore

import (
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// Secrets of the deployment at rest. Besides the data keys, Doorstep keeps
// a few secrets of its own in the read-model database (the signing secret
// of each webhook subscription). They are credentials, not personal data,
// but a dump of that database must not hand them out: WrapSecret seals one
// under the current KEK, bound to a name (a subscription's id), as text
// that fits a TEXT column:
//
//	"kek:" + KEK id + ":" + base64(nonce ‖ AES-256-GCM ciphertext)
//
// A value without the prefix is a secret written before secrets were
// wrapped; SecretKEKID tells the two apart, so a store rewraps what is in
// clear or under an older KEK (decision 0126).

const (
	secretAAD    = "doorstep.secret.v1\x00"
	secretPrefix = "kek:"
	// MaxSecret bounds a secret WrapSecret accepts.
	MaxSecret = 1024
)

// WrapSecret seals secret under the current KEK, bound to name.
func (r *KEKRing) WrapSecret(name string, secret []byte) (string, error) {
	if len(secret) == 0 || len(secret) > MaxSecret {
		return "", fmt.Errorf("keystore: a secret to wrap must be 1 to %d bytes, not %d", MaxSecret, len(secret))
	}
	nonce := make([]byte, nonceBytes, nonceBytes+len(secret)+r.current.aead.Overhead())
	if _, err := io.ReadFull(r.rand, nonce); err != nil {
		return "", fmt.Errorf("keystore: generate nonce: %w", err)
	}
	ct := r.current.aead.Seal(nonce, nonce, secret, []byte(secretAAD+name))
	return secretPrefix + r.current.id + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// UnwrapSecret opens what WrapSecret returned for name, with the current
// KEK or an old one of the ring.
func (r *KEKRing) UnwrapSecret(name, text string) ([]byte, error) {
	id, ok := SecretKEKID(text)
	if !ok {
		return nil, fmt.Errorf("%w: the secret of %s is not wrapped", ErrKEK, name)
	}
	var k *kek
	if r.current.id == id {
		k = &r.current
	}
	for i := range r.old {
		if r.old[i].id == id {
			k = &r.old[i]
		}
	}
	if k == nil {
		return nil, fmt.Errorf("%w: the secret of %s is wrapped with %s, which is neither the current KEK (%s) nor an old one given; give that KEK (-kek-old-file) to read it", ErrKEK, name, id, r.current.id)
	}
	ct, err := base64.RawStdEncoding.DecodeString(text[len(secretPrefix)+len(id)+1:])
	if err != nil || len(ct) < nonceBytes+k.aead.Overhead() || len(ct) > nonceBytes+MaxSecret+k.aead.Overhead() {
		return nil, fmt.Errorf("%w: the wrapped secret of %s is malformed", ErrKEK, name)
	}
	secret, err := k.aead.Open(nil, ct[:nonceBytes], ct[nonceBytes:], []byte(secretAAD+name))
	if err != nil {
		return nil, fmt.Errorf("%w: the secret of %s does not unwrap with %s (altered, or wrapped for another name)", ErrKEK, name, id)
	}
	return secret, nil
}

// SecretKEKID returns the id of the KEK a wrapped secret is under; ok is
// false for a value that is not a wrapped secret (one kept in clear).
func SecretKEKID(text string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(text, secretPrefix)
	if !ok {
		return "", false
	}
	id, _, ok = strings.Cut(rest, ":")
	return id, ok && id != ""
}

// SecretKEKID is SecretKEKID as a method, so a store can take the ring
// behind an interface of its own.
func (r *KEKRing) SecretKEKID(text string) (string, bool) { return SecretKEKID(text) }
