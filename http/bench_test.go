package http

import (
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/doorstep/doorstep/identity"
)

// BenchmarkGetHousehold measures one profile read through the whole
// handler chain (auth, scope, read model, JSON), in process.
func BenchmarkGetHousehold(b *testing.B) {
	e := newEnv(b, nil)
	f := seed(b, e)
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}, Sensitive: os.Getenv("BENCH_SENSITIVE") != ""})
	h := e.srv.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/v1/households/"+f.h[0], nil)
			req.Header.Set("Authorization", "Bearer "+sup)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != nethttp.StatusOK {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	})
}
