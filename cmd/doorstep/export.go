package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/logchain"
	"github.com/doorstep/doorstep/projections/audit"
)

// runExport is `doorstep export`: the audit trail of a household or a
// problem as JSON Lines or CSV, or (with neither) the whole log as JSON
// Lines. Sensitive fields are never exported in clear: sealed values stay
// sealed ciphertext in a log export and appear only as changed/unchanged
// in a trail.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	st := storeFlags(fs)
	calendarFlag(fs, st)
	household := fs.String("household", "", "export this household's audit trail / 导出该家庭的审计轨迹")
	problem := fs.String("problem", "", "export this problem's audit trail / 导出该问题的审计轨迹")
	format := fs.String("format", "jsonl", "jsonl or csv (csv only for a trail) / 导出格式")
	out := fs.String("o", "-", "output file; - is standard output / 输出文件")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if helpAsked(args) {
		return nil
	}
	if *format != "jsonl" && *format != "csv" {
		return usageError{fmt.Sprintf("doorstep export: -format %q: use jsonl or csv / 格式无效", *format)}
	}
	if *household != "" && *problem != "" {
		return usageError{"doorstep export: give at most one of -household or -problem / 只能指定一个"}
	}
	if *format == "csv" && *household == "" && *problem == "" {
		return usageError{"doorstep export: csv is for a trail; give -household or -problem / CSV 仅用于审计轨迹"}
	}
	rt, err := openExisting(ctx, *data, *st)
	if err != nil {
		return err
	}
	defer rt.Close()
	w := stdout
	if *out != "-" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	if *household == "" && *problem == "" {
		n, heads, keys, err := exportLog(ctx, rt.store, bw)
		if err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "exported %d events / 已导出 %d 条事件\n", n, n)
		if heads == 0 {
			fmt.Fprintln(stderr, "no signed head in the log: an auditor cannot check that nothing was removed; run `doorstep checkpoint sign` first / 日志中没有签名头")
		} else {
			fmt.Fprintf(stderr, "with %d signed heads, key id %s / 含 %d 个签名头\n", heads, strings.Join(keys, ", "), heads)
		}
		return nil
	}
	if _, err := rt.engine.CatchUp(ctx, nil); err != nil {
		return err
	}
	var entries []audit.Entry
	if *household != "" {
		if entries, err = rt.read.Trail.Household(ctx, *household); err == nil {
			var h *domain.Household
			if h, err = rt.app.Household(ctx, *household, domain.AsOf{}); err == nil {
				audit.MarkErased(entries, h) // destroyed keys show as erased (decision 0100)
			}
		}
	} else {
		entries, err = rt.read.Trail.Problem(ctx, *problem)
	}
	if err != nil {
		return err
	}
	// An export leaves Doorstep: sealed text stays sealed in it, marked
	// "[sealed]" or, once its key is gone, "[erased]" (decision 0108).
	audit.OpenText(ctx, entries, markerOpener{rt.vault})
	if *format == "csv" {
		err = audit.WriteCSV(bw, entries)
	} else {
		err = audit.WriteJSONL(bw, entries)
	}
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d trail entries / 已导出 %d 条审计记录\n", len(entries), len(entries))
	return nil
}

// exportLog writes every event of the log as one JSON object per line.
// Each line also carries data_base64, the data's exact stored bytes (the
// "data" member is JSON re-encoded, and the hash covers the stored bytes),
// so that an auditor can recompute every hash from the export alone
// (docs/verify-offline.md). Signed heads are events of the log (stream
// logchain-heads) and travel with it; keys names the ids of the keys that
// signed them.
func exportLog(ctx context.Context, s eventstore.Store, w io.Writer) (n, heads int, keys []string, err error) {
	enc := json.NewEncoder(w)
	var after eventstore.Position
	for {
		page, err := s.ReadAll(ctx, after, 1000)
		if err != nil {
			return n, heads, keys, err
		}
		for i := range page {
			e := &page[i]
			if err := enc.Encode(map[string]any{"position": e.Position.String(), "id": e.ID.String(), "stream": e.Stream, "version": e.Version,
				"type": e.Type, "schema_version": e.SchemaVersion, "data": e.Data, "data_base64": []byte(e.Data), "metadata": e.Metadata, "recorded_at": e.RecordedAt,
				"hash": fmt.Sprintf("%x", e.Hash)}); err != nil {
				return n, heads, keys, err
			}
			n++
			if e.Stream == logchain.HeadStream && e.Type == logchain.HeadEventType {
				heads++
				var h logchain.Head
				if json.Unmarshal(e.Data, &h) == nil && !slices.Contains(keys, h.KeyID) {
					keys = append(keys, h.KeyID)
				}
			}
		}
		if len(page) < 1000 {
			return n, heads, keys, nil
		}
		after = page[len(page)-1].Position
	}
}

// markerOpener opens nothing: it tells an erased value (domain.ErrErased)
// from one that is only sealed, so that an export marks each as such.
type markerOpener struct{ v domain.KeyChecker }

func (m markerOpener) Open(ctx context.Context, householdID string, s domain.Sealed) ([]byte, error) {
	if erased, err := m.v.Erased(ctx, householdID, s); err == nil && erased {
		return nil, domain.ErrErased
	}
	return nil, errSealedInExports
}

var errSealedInExports = errors.New("doorstep: sealed text is not opened in an export")
