package accesslog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// The record of sensitive reads is tamper-evident (issue 14, decision
// 0101): each record carries the hash of the one before it (Prev) and its
// own (Hash), a SHA-256 over Prev and the record's JSON with Hash empty, as
// the log's own chain does (decision 0004). Changing, removing or
// reordering a record breaks the chain at that record; Verify finds it.
// Records written before the chain existed carry no hash and come first;
// Verify counts them apart.

// Purposes for which sensitive fields may be revealed: a fixed list
// (identity.MayReveal decides who may use which).
const (
	PurposeVisitPreparation = "visit_preparation" // 走访准备
	PurposeServiceReferral  = "service_referral"  // 服务转介
	PurposeAudit            = "audit"             // 审计
	PurposeStatutoryReport  = "statutory_report"  // 法定报告
)

// chainHash is the hash of r chained after prev.
func chainHash(prev string, r Record) string {
	r.Prev, r.Hash = prev, ""
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a Record always marshals
	}
	h := sha256.New()
	h.Write([]byte("doorstep.sensitive-reads.v1\x00" + prev + "\x00"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// chain sets Prev and Hash of recs after head and returns the new head.
func chain(head string, recs []Record) string {
	for i := range recs {
		recs[i].Prev = head
		recs[i].Hash = chainHash(head, recs[i])
		head = recs[i].Hash
	}
	return head
}

// stamp is the instant a record carries: UTC, to the microsecond (what
// PostgreSQL keeps), so that the hash is the same when read back.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// ChainReport is what Verify found.
type ChainReport struct {
	Records  int    `json:"records"`  // records read
	Legacy   int    `json:"legacy"`   // records from before the chain (no hash), at the start
	Verified bool   `json:"verified"` // every chained record holds
	Head     string `json:"head"`     // hash of the last record
	Problem  string `json:"problem,omitempty"`
}

// verifier checks records in order.
type verifier struct {
	r    ChainReport
	head string
}

func (v *verifier) next(r Record) bool {
	v.r.Records++
	n := v.r.Records
	switch {
	case r.Hash == "" && v.head == "" && v.r.Records == v.r.Legacy+1:
		v.r.Legacy++
		return true
	case r.Hash == "":
		v.r.Problem = fmt.Sprintf("record %d has no hash after chained records: records were inserted or altered", n)
	case r.Prev != v.head:
		v.r.Problem = fmt.Sprintf("record %d does not follow record %d: a record was removed, inserted or reordered", n, n-1)
	case chainHash(v.head, r) != r.Hash:
		v.r.Problem = fmt.Sprintf("record %d was altered (its hash does not match its content)", n)
	default:
		v.head = r.Hash
		return true
	}
	return false
}

func (v *verifier) report() ChainReport {
	v.r.Verified = v.r.Problem == ""
	v.r.Head = v.head
	return v.r
}
