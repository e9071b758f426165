package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/webhook"
)

// runWebhookCmd is `doorstep webhook list | create | delete | parked |
// replay`: webhook subscriptions managed on the data directory (or
// PostgreSQL schema) next to a running server, which picks changes up
// within seconds; the same operations as /v1/webhooks.
func runWebhookCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "list", "create", "delete", "parked", "replay":
	default:
		return usageError{"doorstep webhook: give a subcommand: list, create -url URL [-types T,…] [-communities C,…] [-from now|start], delete -id ID, parked -id ID, replay -id ID -event EVENT / 请指定子命令"}
	}
	fs := flag.NewFlagSet("webhook "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	st := storeFlags(fs)
	var url, types, comms, from, id, event string
	switch sub {
	case "create":
		fs.StringVar(&url, "url", "", "the receiver's URL (http or https) / 接收方地址")
		fs.StringVar(&types, "types", "", "comma-separated event types to deliver (default: all) / 事件类型")
		fs.StringVar(&comms, "communities", "", "comma-separated communities to deliver (default: all) / 社区")
		fs.StringVar(&from, "from", "now", "now (events from now on) or start (the whole log) / 起始位置")
	case "delete", "parked", "replay":
		fs.StringVar(&id, "id", "", "the subscription id (wh_…) / 订阅编号")
		if sub == "replay" {
			fs.StringVar(&event, "event", "", "the id of the parked event / 已搁置事件的编号")
		}
	}
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
	enc, err := cloudevent.NewEncoder("", "")
	if err != nil {
		return err
	}
	m, err := webhook.New(rt.webhookConfig(enc, nil))
	if err != nil {
		return err
	}
	if err := m.Init(ctx); err != nil {
		return err
	}
	switch sub {
	case "list":
		return printWebhookStatus(ctx, rt, stdout)
	case "create":
		s, secret, err := m.Create(ctx, webhook.Request{URL: url, Types: splitComma(types), Communities: splitComma(comms), From: from}, "cli")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "webhook %s created for %s\nsecret (shown once; store it now) / 密钥（只显示一次，请立即保存）:\n%s\n", s.ID, s.URL, secret)
		return nil
	case "delete":
		if err := m.Delete(ctx, id, "cli"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "webhook %s deleted / 已删除\n", id)
		return nil
	case "parked":
		ds, err := m.Deliveries(ctx, id, webhook.StatusParked, webhook.MaxDeliveriesList)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "EVENT\tTYPE\tPOSITION\tATTEMPTS\tLAST_ERROR\t/ 事件 类型 位置 尝试次数 最后错误")
		for _, d := range ds {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t\n", d.EventID, d.Type, d.Position, d.Attempts, d.LastError)
		}
		return w.Flush()
	default: // replay
		d, err := m.Replay(ctx, id, event)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "event %s: %s after %d attempts %s\n", d.EventID, d.Status, d.Attempts, d.LastError)
		return nil
	}
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
