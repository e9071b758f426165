package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/doorstep/doorstep/eventstore"
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
	if err := needStoreAt(ctx, *data, *st); err != nil {
		return err
	}
	rt, err := openRuntime(ctx, *data, *st, nil)
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
		n, err := exportLog(ctx, rt.store, bw)
		if err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "exported %d events / 已导出 %d 条事件\n", n, n)
		return nil
	}
	if _, err := rt.engine.CatchUp(ctx, nil); err != nil {
		return err
	}
	var entries []audit.Entry
	if *household != "" {
		entries, err = rt.read.Trail.Household(ctx, *household)
	} else {
		entries, err = rt.read.Trail.Problem(ctx, *problem)
	}
	if err != nil {
		return err
	}
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
func exportLog(ctx context.Context, s eventstore.Store, w io.Writer) (int, error) {
	enc := json.NewEncoder(w)
	var after eventstore.Position
	n := 0
	for {
		page, err := s.ReadAll(ctx, after, 1000)
		if err != nil {
			return n, err
		}
		for i := range page {
			e := &page[i]
			if err := enc.Encode(map[string]any{"position": e.Position.String(), "id": e.ID.String(), "stream": e.Stream, "version": e.Version,
				"type": e.Type, "schema_version": e.SchemaVersion, "data": e.Data, "metadata": e.Metadata, "recorded_at": e.RecordedAt,
				"hash": fmt.Sprintf("%x", e.Hash)}); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < 1000 {
			return n, nil
		}
		after = page[len(page)-1].Position
	}
}
