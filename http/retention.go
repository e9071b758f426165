package http

import (
	"context"
	nethttp "net/http"
	"reflect"
	"time"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/retention"
)

// RetentionPreviewer lists the closed files whose retention period ends by
// an instant (retention.Manager; decision 0113).
type RetentionPreviewer interface {
	Preview(ctx context.Context, until time.Time) ([]retention.Item, error)
}

// RetentionPreview is the body of GET /v1/retention/preview: the archived
// households the retention task erases by Until, oldest first, without
// personal data.
type RetentionPreview struct {
	Until      time.Time        `json:"until"`
	Households []retention.Item `json:"households"`
}

func retentionSchemaTypes(responses map[string]reflect.Type) {
	responses["RetentionPreview"] = reflect.TypeOf(RetentionPreview{})
}

// maxPreviewAhead bounds how far ahead a preview looks.
const maxPreviewAhead = 50 * 365 * 24 * time.Hour

func (s *Server) retentionRoutes() []route {
	return []route{
		{op: "previewRetention", method: "GET", path: "/v1/retention/preview",
			roles:   []identity.Role{identity.RolePrivacyOfficer, identity.RoleAdmin, identity.RoleAuditor},
			summary: "the closed files whose retention period has ended (or ends by ?until=), which the retention task erases, and when", h: s.previewRetention,
			doc: opDoc{tag: "privacy", ok: 200, resp: "RetentionPreview", params: []param{qp("until", "string", "an RFC 3339 instant; default now: list the files due by then")}}},
	}
}

func (s *Server) previewRetention(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "until"); err != nil {
		return err
	}
	now := s.d.Now()
	until := now
	if u := q.Get("until"); u != "" {
		t, err := time.Parse(time.RFC3339, u)
		if err != nil {
			return newErr(ErrBadRequest, "invalid_until", "until", "until must be an RFC 3339 instant, such as 2029-01-01T00:00:00+08:00",
				"“until” 须为 RFC 3339 时刻，例如 2029-01-01T00:00:00+08:00")
		}
		if t.Sub(now) > maxPreviewAhead {
			return newErr(ErrBadRequest, "invalid_until", "until", "until may be at most 50 years ahead", "“until” 最多可为 50 年之后")
		}
		until = t
	}
	if s.d.Retention == nil {
		return newErr(ErrUnavailable, "retention_unavailable", "", "this server does not run the retention task", "此服务器未运行保存期限任务")
	}
	items, err := s.d.Retention.Preview(r.Context(), until)
	if err != nil {
		return err
	}
	return writeJSON(w, nethttp.StatusOK, RetentionPreview{Until: until, Households: items})
}
