package logchain

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/doorstep/doorstep/eventstore"
)

// HeadFormat names the layout of a head and of its signed message.
const HeadFormat = "doorstep-signed-head-v1"

// Head is a signed head of the global chain: the first Count events of the
// log end at Position and chain to Chain. Signature is the Ed25519
// signature, by the key KeyID, of Message().
type Head struct {
	Format    string `json:"format"`
	KeyID     string `json:"key_id"`
	Count     uint64 `json:"count"`
	Position  string `json:"position"`
	Chain     string `json:"chain"`     // G(Count), 64 hex digits
	SignedAt  string `json:"signed_at"` // RFC 3339, UTC, as signed
	Signature string `json:"signature"` // standard base64 of 64 bytes
}

// Message is the exact text that is signed: six lines, each ending in "\n":
//
//	doorstep-signed-head-v1
//	key_id <key id>
//	count <count>
//	position <position>
//	chain <chain>
//	signed_at <signed at>
func (h *Head) Message() []byte {
	return fmt.Appendf(nil, "%s\nkey_id %s\ncount %d\nposition %s\nchain %s\nsigned_at %s\n",
		HeadFormat, h.KeyID, h.Count, h.Position, h.Chain, h.SignedAt)
}

// Sign returns the head of c signed with key at instant at.
func Sign(key ed25519.PrivateKey, c Chain, at time.Time) Head {
	h := Head{Format: HeadFormat, KeyID: KeyID(key.Public().(ed25519.PublicKey)), Count: c.Count,
		Position: c.Position.String(), Chain: hex.EncodeToString(c.Hash[:]),
		SignedAt: at.UTC().Format(time.RFC3339Nano)}
	h.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, h.Message()))
	return h
}

// Check reports why h is not a well-formed head signed by pub, or nil.
// With pub nil only the form is checked.
func (h *Head) Check(pub ed25519.PublicKey) error {
	if h.Format != HeadFormat {
		return fmt.Errorf("format %q is not %q", h.Format, HeadFormat)
	}
	if h.Count == 0 {
		return fmt.Errorf("it covers no event")
	}
	if _, err := eventstore.ParsePosition(h.Position); err != nil {
		return err
	}
	if b, err := hex.DecodeString(h.Chain); err != nil || len(b) != 32 {
		return fmt.Errorf("chain %q is not 64 hex digits", h.Chain)
	}
	sig, err := base64.StdEncoding.DecodeString(h.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("the signature is not %d bytes in base64", ed25519.SignatureSize)
	}
	if pub == nil {
		return nil
	}
	if id := KeyID(pub); h.KeyID != id {
		return fmt.Errorf("it is signed by key %s, not by the given public key %s", h.KeyID, id)
	}
	if !ed25519.Verify(pub, h.Message(), sig) {
		return fmt.Errorf("the signature does not verify with key %s: the head was altered or forged", h.KeyID)
	}
	return nil
}
