package town

import (
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"
)

// newUUID returns a UUIDv7 whose timestamp is at (simulated time, so ids
// sort like the history) and whose random bits come from r: deterministic
// for a seeded r, never from the process's entropy.
func newUUID(r *rand.Rand, at time.Time) uuid.UUID {
	var u uuid.UUID
	ms := uint64(at.UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	binary.BigEndian.PutUint16(u[6:8], uint16(r.Uint32()))
	binary.BigEndian.PutUint64(u[8:16], r.Uint64())
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 4122 variant
	return u
}

// draw picks a key of s with probability proportional to its weight, in a
// fixed (sorted) key order so the result does not depend on map iteration.
func draw[K ~string](r *rand.Rand, s Share[K]) K {
	keys := make([]K, 0, len(s))
	total := 0.0
	for k, w := range s {
		if w > 0 {
			keys = append(keys, k)
			total += w
		}
	}
	slices.SortFunc(keys, func(a, b K) int { return cmp.Compare(a, b) })
	x := r.Float64() * total
	for _, k := range keys {
		x -= s[k]
		if x < 0 {
			return k
		}
	}
	return keys[len(keys)-1]
}

// between returns a duration uniformly in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

const (
	minute = time.Minute
	hour   = time.Hour
	day    = 24 * time.Hour
)
