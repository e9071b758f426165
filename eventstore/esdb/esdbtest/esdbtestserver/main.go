// Command esdbtestserver runs the in-process EventStoreDB protocol server
// of package esdbtest as a process of its own, in memory, until it is
// interrupted: for trying `doorstep -store esdb://…` by hand, and for
// running the live suite's plumbing without a real server:
//
//	go run ./eventstore/esdb/esdbtest/esdbtestserver -addr-file /tmp/esdb.url &
//	DOORSTEP_TEST_ESDB_URL=$(cat /tmp/esdb.url) go test -tags esdb_live -run TestConformanceLive ./eventstore/esdb/
//
// It is not EventStoreDB (decision 0084): what passes against it proves
// the mapping and the client calls, and its figures are not EventStoreDB's.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
)

func main() {
	addrFile := flag.String("addr-file", "", "also write the connection string to this file / 将连接字符串写入此文件")
	flag.Parse()
	srv, err := esdbtest.Start(nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "esdbtestserver: %v\n", err)
		os.Exit(1)
	}
	defer srv.Close()
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(srv.URL()), 0o600); err != nil {
			fmt.Fprintf(os.Stderr, "esdbtestserver: %v\n", err)
			os.Exit(1)
		}
	}
	fmt.Printf("in-process EventStoreDB protocol server (a test double, not EventStoreDB) at %s / 测试用协议服务器\n", srv.URL())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
}
