package accesslog

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/logchain"
)

// Signed heads of the record of reveals (decision 0111). The record is a
// hash chain (chain.go), which shows a record altered, inserted or
// reordered, but not the last records removed, nor the whole record
// rewritten by someone who recomputes every hash. A head signed with the
// operator's Ed25519 key (the key that signs the log's heads, decision
// 0073) states "the first n records chain to h": nobody who can only edit
// the record can make one, and a record cut short or rewritten no longer
// matches it. Heads are kept outside the record: appended to the event log
// (stream HeadStream, covered in turn by the log's own signed heads) and to
// a heads file in the signer's data directory (HeadsFileName).

// HeadFormat names the layout of a head of the record and of its message.
const HeadFormat = "doorstep-reveals-head-v1"

// HeadStream is the stream of the event log heads of the record are
// appended to, and HeadEventType their event type.
const (
	HeadStream    = "accesslog-heads"
	HeadEventType = "accesslog.head_signed"
)

// HeadsFileName is the heads file in the data directory.
const HeadsFileName = "signed-reveal-heads.jsonl"

// Head is a signed head of the record of reveals: its first Records
// records (legacy ones included) end with the record whose hash is Hash.
type Head struct {
	Format    string `json:"format"`
	KeyID     string `json:"key_id"`
	Records   int    `json:"records"`
	Hash      string `json:"hash"`
	SignedAt  string `json:"signed_at"`
	Signature string `json:"signature"`
}

// Message is the exact text that is signed: five lines, each ending in "\n":
//
//	doorstep-reveals-head-v1
//	key_id <key id>
//	records <records>
//	hash <hash>
//	signed_at <signed at>
func (h *Head) Message() []byte {
	return fmt.Appendf(nil, "%s\nkey_id %s\nrecords %d\nhash %s\nsigned_at %s\n",
		HeadFormat, h.KeyID, h.Records, h.Hash, h.SignedAt)
}

// SignHead signs the head of a record Verify reported on. A record that
// does not verify, or holds no chained record, is not signed: a signature
// must never vouch for a broken record.
func SignHead(key ed25519.PrivateKey, rep ChainReport, at time.Time) (Head, error) {
	if !rep.Verified {
		return Head{}, fmt.Errorf("the record of reveals does not verify (%s); it is not signed / 查阅记录校验失败，不予签名", rep.Problem)
	}
	if rep.Head == "" {
		return Head{}, errNothingToSign
	}
	h := Head{Format: HeadFormat, KeyID: logchain.KeyID(key.Public().(ed25519.PublicKey)),
		Records: rep.Records, Hash: rep.Head, SignedAt: at.UTC().Format(time.RFC3339Nano)}
	h.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, h.Message()))
	return h, nil
}

var errNothingToSign = errors.New("the record of reveals holds no chained record: there is nothing to sign / 查阅记录为空，无可签名内容")

// Check reports why h is not a well-formed head signed by one of keys, or
// nil. With no keys only the form is checked.
func (h *Head) Check(keys []ed25519.PublicKey) error {
	if h.Format != HeadFormat {
		return fmt.Errorf("format %q is not %q", h.Format, HeadFormat)
	}
	if h.Records <= 0 || len(h.Hash) != 64 {
		return fmt.Errorf("it covers no record")
	}
	sig, err := base64.StdEncoding.DecodeString(h.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("the signature is not %d bytes in base64", ed25519.SignatureSize)
	}
	if len(keys) == 0 {
		return nil
	}
	for _, k := range keys {
		if logchain.KeyID(k) == h.KeyID {
			if !ed25519.Verify(k, h.Message(), sig) {
				return fmt.Errorf("the signature does not verify with key %s: the head was altered or forged", h.KeyID)
			}
			return nil
		}
	}
	return fmt.Errorf("it is signed by key %s, which is not among the given public keys", h.KeyID)
}

// HeadsReport is what CheckHeads found: the chain's report, how many heads
// were checked, and the newest (largest) one.
type HeadsReport struct {
	Chain             ChainReport
	Heads             int
	SignaturesChecked bool
	Last              Head
	// Uncovered counts records after the newest head.
	Uncovered int
}

// CheckHeads checks the chain of recs (the whole record, in order) and
// every head against it: a head's signature (with keys, when given), and
// that the record still has its records and that the last of them has the
// head's hash. The first problem is returned as an error naming the head
// and what differs: the record cut short (records removed at its end) or
// rewritten (records altered, removed or inserted, hashes recomputed).
func CheckHeads(recs []Record, heads []Head, keys []ed25519.PublicKey) (HeadsReport, error) {
	var v verifier
	for _, r := range recs {
		if !v.next(r) {
			break
		}
	}
	rep := HeadsReport{Chain: v.report(), SignaturesChecked: len(keys) > 0}
	if !rep.Chain.Verified {
		return rep, fmt.Errorf("the record of reveals is broken: %s / 查阅记录哈希链断裂", rep.Chain.Problem)
	}
	for _, h := range heads {
		if err := h.Check(keys); err != nil {
			return rep, fmt.Errorf("signed head of %d records (signed at %s): %v / 查阅记录签名头无效", h.Records, h.SignedAt, err)
		}
		if h.Records > len(recs) {
			return rep, fmt.Errorf("the record of reveals was cut short: a head signed at %s covers %d records, only %d remain (records %d to %d were removed) / 查阅记录被截短：签名头覆盖 %d 条，现仅 %d 条",
				h.SignedAt, h.Records, len(recs), len(recs)+1, h.Records, h.Records, len(recs))
		}
		if recs[h.Records-1].Hash != h.Hash {
			return rep, fmt.Errorf("the record of reveals differs from a head signed at %s within its first %d records: records were altered, removed or inserted and the hashes recomputed / 查阅记录与签名头不符：前 %d 条记录被改写",
				h.SignedAt, h.Records, h.Records)
		}
		rep.Heads++
		if h.Records >= rep.Last.Records {
			rep.Last = h
		}
	}
	rep.Uncovered = len(recs) - rep.Last.Records
	return rep, nil
}

// maxHeadLine bounds one line of a heads file.
const maxHeadLine = 4 << 10

// AppendHeadsFile appends h to the heads file at path (mode 0600) and
// syncs it.
func AppendHeadsFile(path string, h Head) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("reveal heads file: %w / 无法打开查阅记录签名头文件", err)
	}
	defer f.Close()
	line, err := json.Marshal(h)
	if err != nil {
		return err
	}
	// A line torn by a crash is closed first by the leading newline; an
	// empty line reads as none.
	if _, err := f.Write(append(append([]byte{'\n'}, line...), '\n')); err != nil {
		return fmt.Errorf("reveal heads file %s: %w / 无法写入查阅记录签名头文件", path, err)
	}
	return f.Sync()
}

// ReadHeadsFile reads the heads in the file at path; a missing file has
// none, a torn last line is skipped, any other line that is not a head is
// an error.
func ReadHeadsFile(path string) ([]Head, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reveal heads file: %w / 无法读取查阅记录签名头文件", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, maxHeadLine+1)
	var heads []Head
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return heads, fmt.Errorf("%s line %d is longer than %d bytes; it is not a signed head / 第 %d 行过长", path, n, maxHeadLine, n)
		}
		if errors.Is(err, io.EOF) {
			return heads, nil
		}
		if err != nil {
			return heads, err
		}
		if len(line) <= 1 {
			continue
		}
		var h Head
		if err := json.Unmarshal(line, &h); err != nil {
			return heads, fmt.Errorf("%s line %d is not a signed head: %v / 第 %d 行不是签名头", path, n, err, n)
		}
		heads = append(heads, h)
	}
}

// maxLogHeads bounds the heads read from the log.
const maxLogHeads = 1 << 20

// ReadLogHeads reads the heads appended to the event log.
func ReadLogHeads(ctx context.Context, s eventstore.Store) ([]Head, error) {
	var heads []Head
	for from := uint64(1); len(heads) < maxLogHeads; {
		page, err := s.ReadStream(ctx, HeadStream, eventstore.Forward, from, 1000)
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			if e.Type != HeadEventType {
				continue
			}
			var h Head
			if err := json.Unmarshal(e.Data, &h); err != nil {
				return nil, fmt.Errorf("event %d of %s is not a signed head: %v", e.Version, HeadStream, err)
			}
			heads = append(heads, h)
		}
		if len(page) < 1000 {
			break
		}
		from = page[len(page)-1].Version + 1
	}
	return heads, nil
}

// Verifier is a record of reveals that checks its own chain (File,
// Postgres).
type Verifier interface {
	Verify(ctx context.Context) (ChainReport, error)
}

// Signer signs heads of a record of reveals with the operator's key: on
// demand (Sign) or, while it runs (Run), every Interval when records came
// in since its last head, and once more when it stops.
type Signer struct {
	Record Verifier           // required
	Store  eventstore.Store   // the log heads are appended to; nil: none
	Key    ed25519.PrivateKey // required
	File   string             // the heads file; empty: none
	Now    func() time.Time   // nil: time.Now
	Log    *slog.Logger       // nil: discard
	// Interval is how often Run looks for new records; 0: one minute.
	Interval time.Duration

	mu   sync.Mutex
	last string // hash of the last head signed
}

// Sign signs the record's head now, unless it is the head signed last
// (then it returns that head's hash and signed false).
func (s *Signer) Sign(ctx context.Context) (h Head, signed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep, err := s.Record.Verify(ctx)
	if err != nil {
		return Head{}, false, err
	}
	if rep.Head != "" && rep.Head == s.last {
		return Head{Records: rep.Records, Hash: rep.Head}, false, nil
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now()
	h, err = SignHead(s.Key, rep, at)
	if err != nil {
		return h, false, err
	}
	if s.File != "" {
		if err := AppendHeadsFile(s.File, h); err != nil {
			return h, false, err
		}
	}
	if s.Store != nil {
		data, err := json.Marshal(h)
		if err != nil {
			return h, false, err
		}
		if _, err := s.Store.Append(ctx, HeadStream, eventstore.Any(), eventstore.EventData{
			ID: eventstore.NewID(), Type: HeadEventType, Data: data,
			Metadata: eventstore.Metadata{OccurredAt: at, Actor: "doorstep-checkpoint", Role: "admin"},
		}); err != nil {
			return h, false, fmt.Errorf("append the signed head of the record of reveals to the log: %w", err)
		}
	}
	s.last = h.Hash
	return h, true, nil
}

// Run signs a head every Interval when records came in, until ctx ends;
// then it signs a last one (bounded by ten seconds) if records came in.
// An empty record is not signed, and is not an error.
func (s *Signer) Run(ctx context.Context) error {
	interval := s.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sign := func(ctx context.Context) error {
		h, signed, err := s.Sign(ctx)
		if errors.Is(err, errNothingToSign) {
			return nil
		}
		if err != nil {
			return err
		}
		if signed {
			log.Info("signed head of the record of reveals / 已签名查阅记录头", "records", h.Records, "key_id", h.KeyID)
		}
		return nil
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return sign(sctx)
		case <-tick.C:
			if err := sign(ctx); err != nil {
				return err
			}
		}
	}
}

// ReadFile reads the whole record of reveals in the file at path, in
// order, without opening it for writing: `doorstep verify` reads it while
// a server may be appending. A last line still being written is left out;
// a line that does not parse is kept as an unreadable record, which the
// chain reports.
func ReadFile(ctx context.Context, path string) ([]Record, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	a := &File{path: path}
	return a.all(ctx)
}

// All reads the whole record in order (for CheckHeads).
func (a *File) All(ctx context.Context) ([]Record, error) { return a.all(ctx) }

// All reads the whole record in order (for CheckHeads).
func (a *Postgres) All(ctx context.Context) ([]Record, error) { return a.query(ctx, a.allSQL) }
