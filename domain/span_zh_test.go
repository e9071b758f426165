package domain_test

import (
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// TestSpanInChinese: a span shown in a Chinese message is in Chinese
// (issue 20 item 3), not "3 working_days".
func TestSpanInChinese(t *testing.T) {
	for text, want := range map[string]string{"2 hours": "2 小时", "1 day": "1 天", "3 working_days": "3 个工作日", "1 week": "1 周", "6 months": "6 个月", "": ""} {
		s, err := domain.ParseSpan(text)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.ZH(); got != want {
			t.Errorf("%q in Chinese: %q, want %q", text, got, want)
		}
	}
}
