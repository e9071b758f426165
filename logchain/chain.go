// Package logchain is the tamper evidence of the whole log: a hash chain
// over the global order of events, and heads of that chain signed with an
// Ed25519 key the operator holds (decision 0073).
//
// The per-stream hash chains of package eventstore prove that no event of a
// stream was altered and that no event before a stream's last one was
// removed. They cannot show that a stream's last event, or a whole stream,
// was removed, that two events of different streams swapped places, or
// that the log was cut short. The global chain can: each event's link is
//
//	G(n) = SHA-256( G(n-1) ‖ n ‖ position.Hi ‖ position.Lo ‖ len(stream) ‖ stream ‖ version ‖ id ‖ event hash )
//
// (integers as 8-byte big-endian, the id as its 16 bytes, the event hash as
// its 32 bytes, G(0) 32 zero bytes), where n counts events from 1 in
// position order. A signed head states "the first n events of the log end
// at position p and chain to G(n)", signed by the operator's key; nobody
// who can only edit the database can make a new one.
//
// The chain is computed here, from the global order every backend offers
// (Store.ReadAll), so a backend computes nothing new. Heads are appended to
// the log itself, on the stream HeadStream, so every node and every export
// carries them; a copy of each is also appended to a file outside the
// database (the heads file), because a head that is deleted together with
// the events it covers proves nothing: the file, an earlier export or an
// auditor's archive is what detects a log cut short.
//
// What is here: Link and Chain (the global chain); Head, its signed
// message, signing and checking (head.go); keys as PEM files and their ids
// (key.go); the heads file (file.go); Verify, which checks every stream's
// chain, the global chain and every head in one pass over the log
// (verify.go); and Signer, which signs heads on demand or every n events
// and on a schedule (signer.go). An auditor can check an export without
// this code: docs/verify-offline.md.
package logchain

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/doorstep/doorstep/eventstore"
)

// HeadStream is the stream signed heads are appended to, and HeadEventType
// their event type.
const (
	HeadStream    = "logchain-heads"
	HeadEventType = "logchain.head_signed"
)

// Link returns G(n) from G(n-1) = prev for e, the n-th event of the log.
func Link(prev [32]byte, n uint64, e *eventstore.Event) [32]byte {
	var buf [8 * 5]byte
	h := sha256.New()
	h.Write(prev[:])
	binary.BigEndian.PutUint64(buf[0:], n)
	binary.BigEndian.PutUint64(buf[8:], e.Position.Hi)
	binary.BigEndian.PutUint64(buf[16:], e.Position.Lo)
	binary.BigEndian.PutUint64(buf[24:], uint64(len(e.Stream)))
	h.Write(buf[:32])
	h.Write([]byte(e.Stream))
	binary.BigEndian.PutUint64(buf[32:], e.Version)
	h.Write(buf[32:])
	h.Write(e.ID[:])
	h.Write(e.Hash[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Chain is the global chain as far as it has been computed: Count events,
// the last at Position, linking to Hash. The zero Chain is the empty log.
type Chain struct {
	Count    uint64
	Position eventstore.Position
	Hash     [32]byte
}

// Add extends the chain by e, the next event of the log in position order.
func (c *Chain) Add(e *eventstore.Event) {
	c.Count++
	c.Hash = Link(c.Hash, c.Count, e)
	c.Position = e.Position
}
