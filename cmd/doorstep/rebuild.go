package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// runRebuild is `doorstep rebuild`: it empties the read models (all, or
// those named with -projection) and applies the whole log again, drawing a
// progress bar. Run it while the server is stopped: one process writes the
// read models at a time.
func runRebuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	st := storeFlags(fs)
	calendarFlag(fs, st)
	only := fs.String("projection", "", "comma-separated projections to rebuild (default: all) / 要重建的投影（默认全部）")
	batch := fs.Int("batch", 0, "events per batch (default: the engine's) / 每批事件数")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if helpAsked(args) {
		return nil
	}
	rt, err := openExisting(ctx, *data, *st)
	if err != nil {
		return err
	}
	defer rt.Close()
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	start := time.Now()
	n, err := rt.engine.Rebuild(ctx, *batch, progressFunc(stderr, "rebuild / 重建"), names...)
	if err != nil {
		return err
	}
	which := "all projections / 全部投影: " + strings.Join(rt.engine.Projections(), ", ")
	if len(names) > 0 {
		which = strings.Join(names, ", ")
	}
	fmt.Fprintf(stdout, "rebuilt %s from %d events in %s / 重建完成\n", which, n, time.Since(start).Round(time.Millisecond))
	return nil
}
