package domain

import (
	"context"
	"errors"
)

// Sealed is a sensitive field (identity number, phone, income, health,
// disability) encrypted with its household's data key. Payload structs hold
// sensitive fields only in this form; the plaintext never enters an event.
// In JSON it is {"key_id": "...", "ciphertext": "<base64>"}; the zero value
// (omitted) means the field was not given.
type Sealed struct {
	KeyID      string `json:"key_id,omitempty"`
	Ciphertext []byte `json:"ciphertext,omitempty"`
}

// IsZero reports whether no value was sealed.
func (s Sealed) IsZero() bool { return s.KeyID == "" && len(s.Ciphertext) == 0 }

// Sealer encrypts a field with the data key of a household. Implementations
// live outside the domain (AES-GCM with a key store) and must be safe for
// concurrent use. ctx is the caller's (the request's or the command's): the
// key store behind a Sealer may be remote, and gives up when ctx ends.
type Sealer interface {
	Seal(ctx context.Context, householdID string, plaintext []byte) (Sealed, error)
}

// Opener decrypts a field. When the household's key has been destroyed it
// returns an error matching ErrErased. ctx is the caller's, as for Sealer.
type Opener interface {
	Open(ctx context.Context, householdID string, s Sealed) ([]byte, error)
}

// SealString seals a text field; the empty string gives the zero Sealed.
func SealString(ctx context.Context, s Sealer, householdID, plaintext string) (Sealed, error) {
	if plaintext == "" {
		return Sealed{}, nil
	}
	return s.Seal(ctx, householdID, []byte(plaintext))
}

// Revealed is the readable form of a sealed field.
type Revealed struct {
	Value  string
	Given  bool // a value was sealed
	Erased bool // a value was sealed but its key is gone
}

// Reveal opens a sealed field for display. A zero Sealed gives
// Revealed{Given: false}; an erased one gives Revealed{Given: true, Erased:
// true} and no error; any other failure is returned.
func Reveal(ctx context.Context, o Opener, householdID string, s Sealed) (Revealed, error) {
	if s.IsZero() {
		return Revealed{}, nil
	}
	b, err := o.Open(ctx, householdID, s)
	if errors.Is(err, ErrErased) {
		return Revealed{Given: true, Erased: true}, nil
	}
	if err != nil {
		return Revealed{}, err
	}
	return Revealed{Value: string(b), Given: true}, nil
}

// String returns the value, or "[erased]" when the key is gone.
func (r Revealed) String() string {
	if r.Erased {
		return "[erased]"
	}
	return r.Value
}
