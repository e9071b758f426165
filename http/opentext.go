package http

import (
	"bytes"
	"context"
	"encoding/json"
	nethttp "net/http"
	"strings"

	"github.com/doorstep/doorstep/domain"
)

// Sealed text in answers (decision 0108). Names, addresses, birth dates and
// the free text workers write are stored sealed (domain.SealText) in the
// log and in the read models. The API shows them opened to whoever may read
// the view that carries them — the route's roles and scope decide, as they
// did when these fields were in clear: a worker needs a member's name and
// the address to visit — and "[erased]" once the key is gone. They are not
// masked like identity numbers, phones, income, health and disability
// (those still need a purpose, decision 0101). The event stream opens them
// too, for the callers its scope rules let see the event; the broker relay,
// webhooks and exports keep the tokens.
//
// The opening is done once, on the JSON of the answer, so that every view
// (profile, lists, problems, referrals, audit trails, worklists) is covered
// without each one knowing which of its strings are sealed.

// tokenStart is how a sealed token begins in JSON: encoding/json writes
// U+001F as \u001f. A token may be a whole string or quoted inside one (a
// summary that quotes a description).
var tokenStart = []byte(`\u001fsealed.v1 `)

// openingWriter buffers a JSON answer and opens the sealed tokens in it
// when the handler is done; any other answer passes through.
type openingWriter struct {
	nethttp.ResponseWriter
	status int
	buf    *bytes.Buffer // nil: not buffering
	passed bool
}

func (w *openingWriter) WriteHeader(code int) {
	if w.status != 0 || w.passed {
		return
	}
	w.status = code
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		w.buf = &bytes.Buffer{}
		return
	}
	w.passed = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *openingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(nethttp.StatusOK)
	}
	if w.buf != nil {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes through for answers that are not buffered.
func (w *openingWriter) Flush() {
	if w.buf != nil {
		return
	}
	if f, ok := w.ResponseWriter.(nethttp.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *openingWriter) Unwrap() nethttp.ResponseWriter { return w.ResponseWriter }

// finish opens the tokens of a buffered answer and writes it.
func (w *openingWriter) finish(ctx context.Context, o domain.Opener) {
	if w.buf == nil {
		return
	}
	out := openTokens(ctx, o, w.buf.Bytes())
	w.Header().Del("Content-Length")
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(out)
}

// openTokens replaces every sealed token in the JSON b (inside a string)
// with its shown value (domain.ShownText), escaped for JSON.
func openTokens(ctx context.Context, o domain.Opener, b []byte) []byte {
	i := bytes.Index(b, tokenStart)
	if i < 0 {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b))
	for i >= 0 {
		out.Write(b[:i])
		b = b[i:]
		n := escapedTokenEnd(b)
		var tok string
		shown := domain.SealedText
		if err := json.Unmarshal(append(append([]byte{'"'}, b[:n]...), '"'), &tok); err == nil {
			shown = domain.ShownText(ctx, o, tok)
		}
		enc, _ := json.Marshal(shown)
		out.Write(enc[1 : len(enc)-1])
		b = b[n:]
		i = bytes.Index(b, tokenStart)
	}
	out.Write(b)
	return out.Bytes()
}

// escapedTokenEnd is the length of the JSON-escaped token at the start of
// b: three space-separated fields (whose escapes, such as \" in an id, are
// skipped), then base64url.
func escapedTokenEnd(b []byte) int {
	i := len(tokenStart)
	for f := 0; f < 3; f++ {
		for i < len(b) && b[i] != ' ' {
			switch b[i] {
			case '"':
				return i // the string ended: not a whole token
			case '\\':
				i++
			}
			i++
		}
		if i >= len(b) {
			return len(b)
		}
		i++ // the space
	}
	for i < len(b) && (b[i] >= 'A' && b[i] <= 'Z' || b[i] >= 'a' && b[i] <= 'z' || b[i] >= '0' && b[i] <= '9' || b[i] == '-' || b[i] == '_') {
		i++
	}
	return i
}
