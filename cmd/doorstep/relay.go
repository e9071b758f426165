package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/relay"
)

// relayFlags are serve's and demo's broker relay flags.
type relayFlags struct {
	targets    string
	source     string
	schemaBase string
}

func addRelayFlags(fs *flag.FlagSet) *relayFlags {
	f := &relayFlags{}
	fs.StringVar(&f.targets, "relay", envOr("DOORSTEP_RELAY", ""), "publish every event as a CloudEvent to these brokers, comma-separated: nats://host:4222?stream=S&subject=P, amqp://user:pass@host:5672/?exchange=X&queue=Q (env DOORSTEP_RELAY) / 将每个事件发布到这些消息代理")
	fs.StringVar(&f.source, "relay-source", envOr("DOORSTEP_RELAY_SOURCE", cloudevent.DefaultSource), "CloudEvents source of the published events, a URI (env DOORSTEP_RELAY_SOURCE) / 事件来源")
	fs.StringVar(&f.schemaBase, "relay-schema-base", envOr("DOORSTEP_RELAY_SCHEMA_BASE", ""), "base URL of this API as integrators reach it, for the events' dataschema (default http://<-addr>) (env DOORSTEP_RELAY_SCHEMA_BASE) / 本 API 的外部地址")
	return f
}

// build parses the flags into a relay config (nil when no target is
// given). addr is the listen address, the default schema base.
func (f *relayFlags) build(addr string) (*relay.Config, error) {
	if strings.TrimSpace(f.targets) == "" {
		return nil, nil
	}
	enc, err := f.encoder(addr)
	if err != nil {
		return nil, err
	}
	cfg := &relay.Config{Encoder: enc}
	for _, raw := range strings.Split(f.targets, ",") {
		t, err := relay.ParseTarget(strings.TrimSpace(raw))
		if err != nil {
			return nil, usageError{"doorstep: -relay: " + err.Error()}
		}
		cfg.Targets = append(cfg.Targets, t)
	}
	return cfg, nil
}

// startRelay builds the relay on the runtime's store and read-model
// database; runBackground runs it beside the projections.
func (rt *runtime) startRelay(ctx context.Context, cfg *relay.Config, log *slog.Logger) error {
	cfg.Store, cfg.DB, cfg.Dialect, cfg.Counter, cfg.Logger, cfg.Now = rt.store, rt.db, rt.dialect, rt.counter, log, clock.Now
	if rt.vault != nil { // values whose keys were destroyed are published as erased (decision 0100)
		vault := rt.vault
		cfg.Encoder = cfg.Encoder.WithErasure(func(householdID, keyID string) bool {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			erased, err := vault.Erased(cctx, householdID, domain.Sealed{KeyID: keyID})
			return err == nil && erased
		})
	}
	r, err := relay.New(*cfg)
	if err != nil {
		return usageError{"doorstep: -relay: " + err.Error()}
	}
	if err := r.Init(ctx); err != nil {
		return err
	}
	rt.relay = r
	return nil
}

// newRelayCollector reports each relay target's lag, deliveries, failures
// and pause at each scrape.
func newRelayCollector(r *relay.Relay) prometheus.Collector {
	type m = statusMetric[relay.Status]
	return newStatusCollector("publisher", r.Status, func(s relay.Status) string { return s.Name },
		m{"doorstep_relay_lag_events", "Events of the log after the relay target's checkpoint (not yet acknowledged by the broker).",
			prometheus.GaugeValue, func(s relay.Status) float64 { return float64(s.LagEvents) }},
		m{"doorstep_relay_lag_seconds", "Age of the oldest event not yet acknowledged by the broker; 0 when none is waiting.",
			prometheus.GaugeValue, func(s relay.Status) float64 { return s.LagSeconds }},
		m{"doorstep_relay_delivered_total", "Events the broker acknowledged, since the process started.",
			prometheus.CounterValue, func(s relay.Status) float64 { return float64(s.Delivered) }},
		m{"doorstep_relay_failed_total", "Publications the broker refused or left unanswered (each retried), since the process started.",
			prometheus.CounterValue, func(s relay.Status) float64 { return float64(s.Failed) }},
		m{"doorstep_relay_paused", "1 while the broker does not acknowledge and the relay target is paused.",
			prometheus.GaugeValue, func(s relay.Status) float64 { return oneIf(s.Paused) }})
}

// runRelayCmd is `doorstep relay status`: each relay target's committed
// checkpoint and how far behind the log it is.
func runRelayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "status" {
		return usageError{"doorstep relay: give a subcommand: status / 请指定子命令：“status”"}
	}
	fs := flag.NewFlagSet("relay status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	st := storeFlags(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
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
	if err := relay.Init(ctx, rt.db, rt.dialect); err != nil {
		return err
	}
	cps, at, err := relay.Checkpoints(ctx, rt.db, rt.dialect)
	if err != nil {
		return err
	}
	if err := printWebhookStatus(ctx, rt, stdout); err != nil {
		return err
	}
	if len(cps) == 0 {
		fmt.Fprintln(stdout, "no relay has published yet (start serve with -relay) / 中继尚未发布任何事件")
		return nil
	}
	head, err := rt.store.Head(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PUBLISHER\tPOSITION\tPUBLISHED\tLAG_EVENTS\tLAG_SECONDS\tUPDATED\t/ 发布者 位置 已发布 落后事件 落后秒数 更新时间")
	for i := range cps {
		if err := relay.Lag(ctx, rt.store, rt.counter, clock.Now(), &cps[i]); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%.1f\t%s\t\n", cps[i].Name, cps[i].Position, cps[i].Events, cps[i].LagEvents, cps[i].LagSeconds, at[i].Format(time.RFC3339))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "head of the log / 日志末尾: %s\n", head)
	return nil
}
