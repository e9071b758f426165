//go:build esdb_live

package esdb_test

import (
	"os"
	"testing"

	"github.com/doorstep/doorstep/eventstore/storetest"
)

// TestConformanceLive runs the conformance suite against the real
// EventStoreDB/KurrentDB server DOORSTEP_TEST_ESDB_URL names (for example
// esdb://127.0.0.1:2113?tls=false). Built only with -tags esdb_live, it
// fails when the variable is missing: scripts/test runs it when the
// variable is set and prints that the live run was not done otherwise.
func TestConformanceLive(t *testing.T) {
	url := os.Getenv("DOORSTEP_TEST_ESDB_URL")
	if url == "" {
		t.Fatal("DOORSTEP_TEST_ESDB_URL is not set; give the server's connection string, e.g. esdb://127.0.0.1:2113?tls=false")
	}
	storetest.Run(t, features(false), func(t *testing.T) storetest.Fixture {
		return newFixture(t, url, nil)
	})
}
