package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are Argon2id's cost parameters (RFC 9106). Each hash records the
// parameters it was made with (PHC string format), so raising them later
// leaves earlier hashes verifiable; a sign-in re-hashes a password made
// with other parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultParams follow OWASP's Password Storage Cheat Sheet first
// configuration for Argon2id (m = 19 MiB, t = 2, p = 1), with RFC 9106's
// 128-bit salt and 256-bit tag. RFC 9106's own recommendations (64 MiB or
// 2 GiB) cost more memory per concurrent sign-in than a small server holds
// (decision 0103).
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// hashPassword returns the PHC string of password under p:
// $argon2id$v=19$m=19456,t=2,p=1$salt$hash (unpadded base64).
func hashPassword(password string, p Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Bounds of the parameters a stored hash may name: a damaged or hostile row
// must not make a sign-in allocate gigabytes.
const (
	maxMemoryKiB = 256 * 1024
	maxTime      = 16
	maxKeyLen    = 64
)

// verifyPassword reports whether password matches the PHC string enc, and
// the parameters enc was made with.
func verifyPassword(password, enc string) (bool, Params, error) {
	parts := strings.Split(enc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, Params{}, errors.New("account: not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, Params{}, fmt.Errorf("account: argon2 version %q", parts[2])
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, Params{}, fmt.Errorf("account: argon2 parameters %q", parts[3])
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, Params{}, err
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, Params{}, err
	}
	if p.Memory == 0 || p.Memory > maxMemoryKiB || p.Time == 0 || p.Time > maxTime || p.Threads == 0 || len(key) == 0 || len(key) > maxKeyLen {
		return false, Params{}, fmt.Errorf("account: argon2 parameters out of bounds %q", parts[3])
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, p, nil
}
