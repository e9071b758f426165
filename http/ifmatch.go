package http

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/doorstep/doorstep/command"
)

// ifMatch is a parsed If-Match header (RFC 9110 §13.1.1):
//
//	If-Match = "*" / #entity-tag
//	entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
//
// A write compares entity tags strongly (§8.8.3.2): a weak tag (W/"7")
// never matches, so a list of weak tags alone always fails the condition
// (412). "*" matches any current representation: the record must exist.
// Our ETags are the stream's version in decimal ("7"); a strong tag that is
// not a decimal version cannot be one we issued, and is answered 400 as a
// client mistake rather than 412.
type ifMatch struct {
	any      bool     // "*"
	versions []uint64 // the strong tags, as versions
	weak     int      // weak tags seen (never matching)
}

// match returns the app condition of the header.
func (m ifMatch) match() *command.Match {
	if m.any {
		return &command.Match{Exists: true}
	}
	return &command.Match{Versions: m.versions}
}

// parseIfMatch parses an If-Match header value (the values of several
// If-Match header lines joined by commas, as RFC 9110 §5.3 allows).
func parseIfMatch(h string) (ifMatch, error) {
	var m ifMatch
	bad := func(why, whyZH string) error {
		return newErr(ErrBadRequest, "invalid_if_match", "If-Match",
			fmt.Sprintf("If-Match %q is not valid: %s; send the ETag you received, e.g. \"7\", a list such as \"7\", \"8\", or * (the record must exist)", clip(h), why),
			fmt.Sprintf("If-Match %q 无效：%s；请发送收到的 ETag，例如 \"7\"，或列表如 \"7\", \"8\"，或 *（记录须已存在）", clip(h), whyZH))
	}
	s := strings.TrimSpace(h)
	if s == "*" {
		m.any = true
		return m, nil
	}
	n := 0
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		weak := strings.HasPrefix(s, "W/")
		if weak {
			s = s[2:]
		}
		if !strings.HasPrefix(s, `"`) {
			if strings.HasPrefix(s, "*") {
				return m, bad("* must stand alone", "* 须单独使用")
			}
			return m, bad("an entity tag is a quoted string", "实体标签须带双引号")
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return m, bad("a quote is not closed", "引号未闭合")
		}
		tag := s[1 : 1+end]
		for i := 0; i < len(tag); i++ {
			if c := tag[i]; c < 0x21 || c == 0x7f {
				return m, bad("an entity tag has a space or control character", "实体标签含空格或控制字符")
			}
		}
		s = strings.TrimLeft(s[2+end:], " \t")
		if s != "" && s[0] != ',' {
			return m, bad("entity tags are separated by commas", "实体标签之间须以逗号分隔")
		}
		n++
		if n > 64 {
			return m, bad("more than 64 entity tags", "实体标签超过 64 个")
		}
		if weak {
			m.weak++
			continue
		}
		v, err := strconv.ParseUint(tag, 10, 64)
		if err != nil {
			return m, bad(fmt.Sprintf("%q is not a version", clip(tag)), fmt.Sprintf("%q 不是版本号", clip(tag)))
		}
		m.versions = append(m.versions, v)
	}
	if n == 0 {
		return m, bad("it names no entity tag", "未包含任何实体标签")
	}
	return m, nil
}

// weakOnly is the 412 for an If-Match of weak tags only: a write needs a
// strong match (RFC 9110 §13.1.1), so the condition is false.
func weakOnly() error {
	return newErr(ErrPreconditionFailed, "weak_etag", "If-Match",
		"a weak entity tag (W/\"…\") never matches for a change; send the strong ETag you received, e.g. \"7\"",
		"弱实体标签（W/\"…\"）不能用于修改；请发送收到的强 ETag，例如 \"7\"")
}
