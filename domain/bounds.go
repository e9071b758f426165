package domain

import (
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// The bounds below are the one place where the shape of ids and the range of
// instants are decided; the HTTP layer and the event stores call these
// functions instead of keeping rules of their own. Decision 0062 gives the
// reasons.

// MaxIDBytes bounds every id (household, member, visit, problem, referral)
// and therefore the id part of every stream name: at most this many bytes of
// UTF-8. A UUID is 36 bytes; a Chinese name-based id of 40 characters is 120.
const MaxIDBytes = 128

// MaxEchoBytes bounds how much of a rejected input an error message or a log
// line quotes (see Clip). Enough to recognise the value, never enough to
// amplify it.
const MaxEchoBytes = 64

// IDRule describes the id rule to people, in English and Chinese.
const (
	IDRule   = "an id is 1 to 128 bytes of ASCII letters, digits and punctuation other than \"/\" (no spaces), and Chinese characters (CJK unified ideographs); it is not \".\" or \"..\"; letters of other scripts and full-width forms are refused because they look like ASCII ones; a UUID is a good choice"
	IDRuleZH = "编号须为 1 至 128 字节，只能由 ASCII 字母、数字、除 “/” 以外的标点（不含空格）及汉字（中日韩统一表意文字）组成，且不能是 “.” 或 “..”；其他文字的字母和全角字符因与 ASCII 字符形似而不被接受；建议使用 UUID"
)

// idProblem returns why id breaks the id rule, in English and Chinese, or
// "" when it follows it.
func idProblem(id string) (en, zh string) {
	switch {
	case id == "":
		return "it is empty", "编号为空"
	case len(id) > MaxIDBytes:
		return fmt.Sprintf("it is %d bytes long", len(id)), fmt.Sprintf("长度为 %d 字节", len(id))
	case !utf8.ValidString(id):
		return "it is not valid UTF-8", "不是有效的 UTF-8"
	case id == "." || id == "..":
		return "it is a dot path", "不能是 “.” 或 “..”"
	}
	for _, r := range id {
		switch {
		case r == '/':
			return "it contains \"/\"", "含有 “/”"
		case r == utf8.RuneError:
			// What decoders put in place of bytes that were not UTF-8
			// (JSON does): the id the client meant is not this one.
			return "it contains U+FFFD, the mark of bytes that were not valid UTF-8", "含有 U+FFFD（无效 UTF-8 字节的替换字符）"
		case unicode.IsSpace(r):
			return fmt.Sprintf("it contains a space (%U)", r), fmt.Sprintf("含有空格（%U）", r)
		case unicode.IsControl(r):
			return fmt.Sprintf("it contains a control character (%U)", r), fmt.Sprintf("含有控制字符（%U）", r)
		case unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("it contains an invisible formatting character (%U)", r), fmt.Sprintf("含有不可见格式字符（%U）", r)
		case !unicode.IsGraphic(r):
			return fmt.Sprintf("it contains a character that is not printable (%U)", r), fmt.Sprintf("含有不可打印字符（%U）", r)
		case !idChar(r):
			return fmt.Sprintf("it contains %U, which is neither ASCII nor a Chinese character (letters of other scripts and full-width forms look like ASCII ones and would name another record)", r),
				fmt.Sprintf("含有 %U，既不是 ASCII 字符也不是汉字（其他文字的字母和全角字符与 ASCII 字符形似，会被当作另一条记录）", r)
		}
	}
	return "", ""
}

// idChar reports whether r may appear in an id (decision 0078): printable
// ASCII (the caller has refused space and '/'), or a CJK unified ideograph
// (the basic block and extensions A to H; not the compatibility
// ideographs, which NFKC folds into unified ones, nor radicals, which look
// like them). Every other script is refused, so that no two ids differ
// only by look-alike letters (Latin a, Cyrillic а, full-width ａ).
func idChar(r rune) bool {
	switch {
	case r > 0x20 && r < 0x7F:
		return true
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0x3400 && r <= 0x4DBF:
		return true
	case r >= 0x20000 && r <= 0x323AF && !(r >= 0x2F800 && r <= 0x2FA1F):
		return true
	}
	return false
}

// ValidID reports whether id follows the id rule (see CheckID).
func ValidID(id string) bool {
	en, _ := idProblem(id)
	return en == ""
}

// CheckID checks the one id rule every id and stream id follows: 1 to
// MaxIDBytes bytes of valid UTF-8, every character graphic (letters, marks,
// digits, punctuation, symbols), no space, control or format character
// (bidirectional overrides such as U+202E, zero-width characters), no '/',
// and not "." or "..". It returns nil or an ErrInvalid *Error with code
// "invalid_id" naming field and quoting at most MaxEchoBytes of id.
func CheckID(field, id string) error {
	en, zh := idProblem(id)
	if en == "" {
		return nil
	}
	q := Clip(id, MaxEchoBytes)
	return newError(ErrInvalid, "invalid_id", field,
		fmt.Sprintf("%s %q is not a valid id: %s; %s", field, q, en, IDRule),
		fmt.Sprintf("“%s” %q 不是有效编号：%s；%s", field, q, zh, IDRuleZH))
}

// checkIDs checks field/id pairs with CheckID, skipping empty ids (which
// the caller reports as required or allows).
func checkIDs(fieldsAndIDs ...string) error {
	for i := 0; i+1 < len(fieldsAndIDs); i += 2 {
		if fieldsAndIDs[i+1] == "" {
			continue
		}
		if err := CheckID(fieldsAndIDs[i], fieldsAndIDs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

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

// The plausible range of every instant the domain accepts: command times,
// visit times, check-ins, deadlines and their extensions. Outside it a time
// is a typing or clock error, and far outside it (before 1678 or after
// 2262) it no longer fits the int64 nanoseconds the read models store.
var (
	// EarliestInstant is the first instant accepted: 2000-01-01T00:00:00Z.
	EarliestInstant = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	// LatestInstant is the last instant accepted: 2100-12-31T23:59:59.999999999Z.
	LatestInstant = time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
)

// CheckInstant checks that t lies within EarliestInstant and LatestInstant
// (inclusive). It returns nil or an ErrInvalid *Error with code
// "time_out_of_range" naming field.
func CheckInstant(field string, t time.Time) error {
	if !t.Before(EarliestInstant) && !t.After(LatestInstant) {
		return nil
	}
	v := t.Format(time.RFC3339)
	return newError(ErrInvalid, "time_out_of_range", field,
		fmt.Sprintf("%s %s is outside the accepted range 2000-01-01 to 2100-12-31 (UTC); check the year", field, v),
		fmt.Sprintf("“%s” %s 超出可接受的范围 2000-01-01 至 2100-12-31（UTC）；请检查年份", field, v))
}
