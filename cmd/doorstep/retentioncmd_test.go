package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRetentionPreviewCommand: `doorstep retention -preview` asks the
// server's preview route with the caller's token and prints its answer;
// without -preview it explains what to do.
func TestRetentionPreviewCommand(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"until":"2029-03-01T00:00:00+08:00","households":[{"household_id":"h1","community":"C1"}]}`))
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"retention", "-preview", "-url", srv.URL, "-token", "tok", "-until", "2029-03-01T00:00:00+08:00"}, &out, &errb); err != nil {
		t.Fatalf("%v %s", err, errb.String())
	}
	if got.URL.Path != "/v1/retention/preview" || got.URL.Query().Get("until") != "2029-03-01T00:00:00+08:00" || got.Header.Get("Authorization") != "Bearer tok" ||
		!strings.Contains(out.String(), `"household_id": "h1"`) {
		t.Fatalf("request %v, output %s", got.URL, out.String())
	}
	if err := run(ctx, []string{"retention", "-url", srv.URL, "-token", "tok"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "-preview") {
		t.Fatalf("without -preview: %v", err)
	}
}
