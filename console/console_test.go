package console

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestServedCompressed: / is the page, /console/… the assets, gzip when
// accepted, with a content security policy that admits only this origin.
func TestServedCompressed(t *testing.T) {
	h := Handler()
	res := get(t, h, "/", "Accept-Encoding", "gzip, br")
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/: %d %v", res.StatusCode, res.Header)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(zr)
	if !strings.Contains(string(page), `src="/console/app.js"`) || !strings.Contains(string(page), `lang="zh-CN"`) {
		t.Fatalf("page %s", page)
	}
	res = get(t, h, "/console/app.js")
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "" || !strings.Contains(res.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("app.js without gzip: %d %v", res.StatusCode, res.Header)
	}
	if res := get(t, h, "/console/app.js", "If-None-Match", res.Header.Get("ETag")); res.StatusCode != 304 {
		t.Fatalf("revalidation: %d", res.StatusCode)
	}
	if res := get(t, h, "/console/nothing.js"); res.StatusCode != 404 {
		t.Fatalf("missing asset: %d", res.StatusCode)
	}
}

// TestFirstLoadBudget: the first load (the page and what it loads) is
// under 400 KB compressed (issue 19).
func TestFirstLoadBudget(t *testing.T) {
	h := Handler()
	total := 0
	for _, p := range []string{"/", "/console/app.js", "/console/i18n.js", "/console/style.css"} {
		res := get(t, h, p, "Accept-Encoding", "gzip")
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", p, res.StatusCode)
		}
		total += len(b)
	}
	t.Logf("first load: %d bytes compressed", total)
	if total > 400_000 {
		t.Fatalf("first load %d bytes compressed, over the 400 KB budget", total)
	}
}

// TestEveryLabelInBothLanguages: the dictionary has the same keys in
// Chinese and English, none empty, and every key the code asks for exists.
func TestEveryLabelInBothLanguages(t *testing.T) {
	src, err := static.ReadFile("static/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	zh, en := s[strings.Index(s, "zh: {"):strings.Index(s, "en: {")], s[strings.Index(s, "en: {"):]
	keyRE := regexp.MustCompile(`(?m)(?:^|[{,]\s*)(\w+): ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")`)
	keys := func(block string) map[string]string {
		m := map[string]string{}
		for _, k := range keyRE.FindAllStringSubmatch(block, -1) {
			m[k[1]] = k[2]
		}
		return m
	}
	kz, ke := keys(zh), keys(en)
	if len(kz) < 50 {
		t.Fatalf("only %d Chinese labels found: the pattern is wrong", len(kz))
	}
	for k, v := range kz {
		if _, ok := ke[k]; !ok {
			t.Errorf("label %s has no English", k)
		}
		if len(v) <= 2 {
			t.Errorf("label %s is empty in Chinese", k)
		}
	}
	for k := range ke {
		if _, ok := kz[k]; !ok {
			t.Errorf("label %s has no Chinese", k)
		}
	}
	app, err := static.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, m := range regexp.MustCompile(`\bt\('(\w+)'\)`).FindAllStringSubmatch(string(app), -1) {
		if _, ok := kz[m[1]]; !ok && !slices.Contains(missing, m[1]) {
			missing = append(missing, m[1])
		}
	}
	if len(missing) > 0 {
		t.Errorf("app.js asks for labels the dictionary lacks: %v", missing)
	}
}
