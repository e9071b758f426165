package profile

import (
	"context"
	"fmt"
	"strings"

	"github.com/doorstep/doorstep/domain"
)

// Search over sealed names and addresses (decision 0108). A sealed token
// carries search tags (domain.SearchTag: a 2-byte bucket under the
// deployment's search key and an 8-byte tag under the household's or the
// member's own key, in hex). The read model keeps them in the columns the
// clear search uses (names_norm, address_norm), written with sixteen
// white-space characters for the sixteen hex digits: Normalize removes
// every white-space character from a search, so a clear search can never
// match a tag, and a tag never matches clear text.
var tagRunes = [16]rune{'\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006', '\u2007',
	'\u2008', '\u2009', '\u200A', '\u2028', '\u2029', '\u202F', '\u205F', '\u3000'}

func encodeTag(hex string) string {
	var b strings.Builder
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(tagRunes[c-'0'])
		case c >= 'a' && c <= 'f':
			b.WriteRune(tagRunes[c-'a'+10])
		}
	}
	return b.String()
}

func decodeTagRune(r rune) (byte, bool) {
	for i, t := range tagRunes {
		if t == r {
			return "0123456789abcdef"[i], true
		}
	}
	return 0, false
}

// searchForm is what the search columns keep of a name or an address: the
// normalised text when it is in clear (events before the wider seal), the
// encoded tags of a sealed token.
func searchForm(s string) string {
	p, ok, err := domain.ParseSealedText(s)
	if !ok {
		return Normalize(s)
	}
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, t := range p.Tags {
		b.WriteString(encodeTag(strings.Replace(t, ".", "", 1)))
	}
	return b.String()
}

// tagsIn returns the hex tags ("bucket.tag") encoded in a search column.
func tagsIn(col string) []string {
	var out []string
	var cur []byte
	flush := func() {
		for len(cur) >= 20 {
			out = append(out, string(cur[:4])+"."+string(cur[4:20]))
			cur = cur[20:]
		}
		cur = cur[:0]
	}
	for _, r := range col {
		if c, ok := decodeTagRune(r); ok {
			cur = append(cur, c)
			continue
		}
		flush()
	}
	flush()
	return out
}

// maxSearchCandidates bounds the rows a sealed search looks at.
const maxSearchCandidates = 10000

// sealedMatches returns the households whose sealed name or address is
// normalised (exactly, after Normalize), checking each candidate's tag
// under its own key: an erased household or member matches nothing.
func (r *Reader) sealedMatches(ctx context.Context, idx domain.Fingerprinter, normalised string) ([]string, error) {
	bucket, err := domain.SearchBucket(ctx, idx, normalised)
	if err != nil {
		return nil, err
	}
	pat := "%" + encodeTag(bucket) + "%"
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(`SELECT household_id, address_norm, names_norm FROM profile_households
		WHERE address_norm LIKE ? OR names_norm LIKE ? LIMIT ?`), pat, pat, maxSearchCandidates)
	if err != nil {
		return nil, fmt.Errorf("profile: search: %w", err)
	}
	type cand struct{ id, address, names string }
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.id, &c.address, &c.names); err != nil {
			rows.Close()
			return nil, err
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cands {
		found := false
		for _, t := range tagsIn(c.address) {
			if strings.HasPrefix(t, bucket+".") {
				if found, err = domain.MatchSearchTag(ctx, idx, c.id, t, normalised); err != nil {
					return nil, err
				}
				if found {
					break
				}
			}
		}
		if !found {
			var subjects []string
			for _, t := range tagsIn(c.names) {
				if !strings.HasPrefix(t, bucket+".") {
					continue
				}
				if subjects == nil {
					if subjects, err = r.memberSubjects(ctx, c.id); err != nil {
						return nil, err
					}
				}
				for _, sub := range subjects {
					if found, err = domain.MatchSearchTag(ctx, idx, sub, t, normalised); err != nil || found {
						break
					}
				}
				if err != nil {
					return nil, err
				}
				if found {
					break
				}
			}
		}
		if found {
			out = append(out, c.id)
		}
	}
	return out, nil
}

func (r *Reader) memberSubjects(ctx context.Context, householdID string) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(`SELECT member_id FROM profile_members WHERE household_id = ? AND left_at = 0`), householdID)
	if err != nil {
		return nil, fmt.Errorf("profile: search: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, domain.MemberSubject(householdID, id))
	}
	return out, rows.Err()
}
