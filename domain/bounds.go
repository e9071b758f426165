package domain

import (
	"unicode/utf8"
)

// The bounds below are the one place where the shape of ids and the range of
// instants are decided; the HTTP layer and the event stores call these
// functions instead of keeping rules of their own. Decision 0062 gives the
// reasons.

// MaxEchoBytes bounds how much of a rejected input an error message or a log
// line quotes (see Clip). Enough to recognise the value, never enough to
// amplify it.
const MaxEchoBytes = 64

// Clip returns s cut to at most max bytes (at a character boundary, with
// "…" appended when cut), for quoting input in errors and logs. Invalid
// UTF-8 is kept as is; quote the result with %q.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && cut > max-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
