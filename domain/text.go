package domain

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// The one bounded-size rule for text the system keeps (decision 0077):
// every name (community, grid, worker, member name…) and every free-text
// field (description, note, reason…). Ids follow CheckID instead.

// MaxNameBytes bounds a name: a community, a grid, a person, a worker, a
// relation. 256 bytes is 85 Chinese characters.
const MaxNameBytes = 256

// MaxTextBytes bounds one free-text field: a problem's description, a
// visit's summary, a note, a reason. 8 KiB is over 2,700 Chinese
// characters, several pages of notes; longer material belongs in an
// attachment store, referenced by id.
const MaxTextBytes = 8 << 10

// CheckName checks a name: at most MaxNameBytes bytes of valid UTF-8 with
// no control characters (no NUL, tab or line break) and no invisible
// formatting characters (such as U+202E, which reverses what follows). An
// empty name passes (the caller decides whether it is required). Errors
// are ErrInvalid with code invalid_text or text_too_long, naming field.
func CheckName(field, s string) error {
	return checkText(field, s, MaxNameBytes, false)
}

// CheckText checks a free-text field: at most MaxTextBytes bytes of valid
// UTF-8 with no control characters other than tab and line breaks, and no
// bidirectional overrides. An empty text passes.
func CheckText(field, s string) error {
	return checkText(field, s, MaxTextBytes, true)
}

func checkText(field, s string, max int, multiline bool) error {
	if len(s) > max {
		return newError(ErrInvalid, "text_too_long", field,
			fmt.Sprintf("%s is %d bytes long; at most %d bytes (UTF-8) are accepted", field, len(s), max),
			fmt.Sprintf("%s 长度为 %d 字节；最多接受 %d 字节（UTF-8）", field, len(s), max))
	}
	if !utf8.ValidString(s) {
		return newError(ErrInvalid, "invalid_text", field,
			fmt.Sprintf("%s is not valid UTF-8", field), fmt.Sprintf("%s 不是有效的 UTF-8", field))
	}
	for _, r := range s {
		bad := false
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			bad = !multiline
		case unicode.IsControl(r):
			bad = true
		case unicode.Is(unicode.Cf, r) && !multiline, isBidiControl(r):
			bad = true
		}
		if bad {
			return newError(ErrInvalid, "invalid_text", field,
				fmt.Sprintf("%s contains the control or formatting character %U; remove it", field, r),
				fmt.Sprintf("%s 含有控制或格式字符 %U；请删除", field, r))
		}
	}
	return nil
}

// isBidiControl reports the characters that reorder the text around them
// (embeddings, overrides, isolates), which make a text display otherwise
// than it reads.
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}
