package domain

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"unicode"
)

// Sealed text (decision 0108): a personal text field of an event — a
// member's name or birth date, an address, a visit summary, a problem's
// description, a note, a reason — is stored in the same JSON string field it
// always had, either in clear (events written before the wider seal) or as a
// sealed token:
//
//	"\x1fsealed.v1 <subject> <key id> <tags> <ciphertext, base64url>"
//
// The subject is the key store subject the value is sealed under (a
// household id, or a member's subject, MemberSubject), so a token opens
// without knowing which stream it came from. <tags> is "-" or the search
// tags of the value (SearchTags), comma-separated. The leading U+001F is a
// control character that CheckName and CheckText refuse, so no text a person
// writes can be mistaken for a token, and a token is never mistaken for
// text. Old events need no upcasting: a string without the prefix is clear.
const sealedTextPrefix = "\x1fsealed.v1 "

// IsSealedText reports whether s is a sealed token.
func IsSealedText(s string) bool { return strings.HasPrefix(s, sealedTextPrefix) }

// SealText seals plaintext under subject's key and returns the token; the
// empty string stays empty. tags (may be nil) are stored in the token in
// clear for the search index; they must be keyed hashes (SearchTags).
func SealText(ctx context.Context, s Sealer, subject, plaintext string, tags []string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	sv, err := s.Seal(ctx, subject, []byte(plaintext))
	if err != nil {
		return "", err
	}
	t := "-"
	if len(tags) > 0 {
		t = strings.Join(tags, ",")
	}
	var b strings.Builder
	b.Grow(len(sealedTextPrefix) + len(subject) + len(sv.KeyID) + len(t) + base64.RawURLEncoding.EncodedLen(len(sv.Ciphertext)) + 3)
	b.WriteString(sealedTextPrefix)
	b.WriteString(subject)
	b.WriteByte(' ')
	b.WriteString(sv.KeyID)
	b.WriteByte(' ')
	b.WriteString(t)
	b.WriteByte(' ')
	b.WriteString(base64.RawURLEncoding.EncodeToString(sv.Ciphertext))
	return b.String(), nil
}

// ParsedText is a sealed token taken apart.
type ParsedText struct {
	Subject string
	Value   Sealed
	Tags    []string
}

var errBadToken = errors.New("domain: a sealed text token is malformed")

// ParseSealedText takes a token apart; ok is false for clear text.
func ParseSealedText(s string) (p ParsedText, ok bool, err error) {
	if !IsSealedText(s) {
		return ParsedText{}, false, nil
	}
	parts := strings.Split(s[len(sealedTextPrefix):], " ")
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" {
		return ParsedText{}, true, errBadToken
	}
	ct, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil {
		return ParsedText{}, true, errBadToken
	}
	p = ParsedText{Subject: parts[0], Value: Sealed{KeyID: parts[1], Ciphertext: ct}}
	if parts[2] != "-" {
		p.Tags = strings.Split(parts[2], ",")
	}
	return p, true, nil
}

// OpenText returns the readable form of a text field: clear text as it is,
// a token opened with o (Erased once its key is gone). A nil o opens
// nothing: a token then reads as Given and not Erased, with an empty Value.
func OpenText(ctx context.Context, o Opener, s string) (Revealed, error) {
	p, ok, err := ParseSealedText(s)
	if !ok {
		return Revealed{Value: s, Given: s != ""}, nil
	}
	if err != nil {
		return Revealed{}, err
	}
	if o == nil {
		return Revealed{Given: true}, nil
	}
	return Reveal(ctx, o, HouseholdOfSubject(p.Subject), p.Value)
}

// HouseholdOfSubject returns the household id of a key store subject (a
// household id, or MemberSubject's household/member).
func HouseholdOfSubject(subject string) string {
	if i := strings.IndexByte(subject, '/'); i >= 0 {
		return subject[:i]
	}
	return subject
}

// Fingerprinter computes a keyed hash under a key store subject's key (a
// key derived from its data key; decision 0012). The key vault implements
// it; once the subject's key is erased it fails (ErrErased).
type Fingerprinter interface {
	Fingerprint(ctx context.Context, subject string, data []byte) ([]byte, error)
}

// SearchIndexSubject is the key store subject of the deployment's search
// bucket key. It holds spaces, which no id may hold (CheckID), so no
// household or member can share it, and no erasure names it.
const SearchIndexSubject = "doorstep search index"

// SearchTag is one search tag: "<bucket>.<tag>". The bucket is the first 2
// bytes (hex) of an HMAC of the normalised text under the deployment's
// search key (SearchIndexSubject): it lets a search find the few candidate
// values without opening anything. The tag is 8 bytes (hex) of an HMAC
// under the subject's own key: a candidate matches only if the tag
// recomputed under that key agrees, which is impossible once the key is
// erased. So a search finds a household before its erasure and not after.
func SearchTag(ctx context.Context, f Fingerprinter, subject, normalised string) (string, error) {
	b, err := SearchBucket(ctx, f, normalised)
	if err != nil {
		return "", err
	}
	t, err := subjectTag(ctx, f, subject, normalised)
	if err != nil {
		return "", err
	}
	return b + "." + t, nil
}

// SearchBucket is the bucket part of SearchTag.
func SearchBucket(ctx context.Context, f Fingerprinter, normalised string) (string, error) {
	m, err := f.Fingerprint(ctx, SearchIndexSubject, []byte("doorstep.search.bucket\x00"+normalised))
	if err != nil {
		return "", err
	}
	return hexOf(m[:2]), nil
}

func subjectTag(ctx context.Context, f Fingerprinter, subject, normalised string) (string, error) {
	m, err := f.Fingerprint(ctx, subject, []byte("doorstep.search.tag\x00"+normalised))
	if err != nil {
		return "", err
	}
	return hexOf(m[:8]), nil
}

// MatchSearchTag reports whether tag (from a token of subject) is the tag
// of normalised. An erased subject matches nothing.
func MatchSearchTag(ctx context.Context, f Fingerprinter, subject, tag, normalised string) (bool, error) {
	_, t, ok := strings.Cut(tag, ".")
	if !ok {
		return false, nil
	}
	want, err := subjectTag(ctx, f, subject, normalised)
	if errors.Is(err, ErrErased) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return want == t, nil
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

// NormalizeSearch folds text for search (decision 0034): full-width ASCII
// folded to half-width, letters lower-cased, white space and the separators
// "·" and "・" removed.
func NormalizeSearch(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000:
			continue
		}
		if unicode.IsSpace(r) || r == '·' || r == '・' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// tokenEnd returns the length of the sealed token at the start of s (which
// begins with the prefix): four space-separated fields, the last one
// base64url. Text may follow the token (a summary quoting a description).
func tokenEnd(s string) int {
	i := len(sealedTextPrefix)
	for f := 0; f < 3; f++ {
		j := strings.IndexByte(s[i:], ' ')
		if j < 0 {
			return len(s)
		}
		i += j + 1
	}
	for i < len(s) && isB64URL(s[i]) {
		i++
	}
	return i
}

func isB64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Shown values of sealed text that cannot be shown.
const (
	ErasedText = "[erased]" // the key was destroyed
	SealedText = "[sealed]" // no key here to open it, or no opener
)

// OpenTextIn returns s with every sealed token in it (whole, or quoted in a
// longer text such as a summary) replaced by its opened value, ErasedText
// once the key is gone, or SealedText when it cannot be opened here. A nil
// o shows every token as SealedText.
func OpenTextIn(ctx context.Context, o Opener, s string) string {
	i := strings.Index(s, sealedTextPrefix)
	if i < 0 {
		return s
	}
	var b strings.Builder
	for i >= 0 {
		b.WriteString(s[:i])
		s = s[i:]
		n := tokenEnd(s)
		b.WriteString(ShownText(ctx, o, s[:n]))
		s = s[n:]
		i = strings.Index(s, sealedTextPrefix)
	}
	b.WriteString(s)
	return b.String()
}

// ShownText is how one token (or clear text) is shown: its value,
// ErasedText or SealedText.
func ShownText(ctx context.Context, o Opener, tok string) string {
	if o == nil && IsSealedText(tok) {
		return SealedText
	}
	r, err := OpenText(ctx, o, tok)
	switch {
	case errors.Is(err, ErrErased):
		return ErasedText
	case err != nil:
		return SealedText
	case r.Erased:
		return ErasedText
	}
	return r.Value
}
