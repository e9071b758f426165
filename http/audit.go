package http

import (
	"context"
	"errors"
	"fmt"
	"mime"
	nethttp "net/http"

	"github.com/doorstep/doorstep/projections/audit"
)

// trailParams are the parameters of an audit-trail route.
func trailParams() []param {
	return []param{qp("format", "string", "json (default), jsonl or csv", "json", "jsonl", "csv")}
}

// AuditTrail is a list of audit entries.
type AuditTrail struct {
	Entries []audit.Entry `json:"entries"`
}

func (s *Server) trail(w nethttp.ResponseWriter, r *nethttp.Request, kind string, read func(ctx context.Context, id string) ([]audit.Entry, error)) error {
	q := r.URL.Query()
	if err := onlyParams(q, "format", "wait_for", "wait_timeout"); err != nil {
		return err
	}
	format, err := enumParam(q, "format", "格式", "json", "jsonl", "csv")
	if err != nil {
		return err
	}
	if s.d.Read.Trail == nil {
		return noReadModel("audit")
	}
	if err := s.waitFor(w, r, audit.Name); err != nil {
		return err
	}
	id, err := s.subject(r, kind)
	if err != nil {
		return err
	}
	entries, err := read(r.Context(), id)
	if errors.Is(err, audit.ErrNotFound) {
		return newErr(ErrNotFound, "not_in_audit_index", "", fmt.Sprintf("%s %s is not in the audit index yet; pass wait_for with the position of your last command", kind, id),
			fmt.Sprintf("%s 尚未进入审计索引；请用 wait_for 传入最后一条命令的位置", id))
	}
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	if kind == "household" {
		if err := s.markErased(r.Context(), id, entries); err != nil {
			return err
		}
	}
	// Sealed text shown to whoever may read the trail (decision 0108),
	// in every format.
	audit.OpenText(r.Context(), entries, s.d.Opener)
	switch format {
	case "jsonl":
		w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
		w.Header().Set("Content-Disposition", attachment(kind+"-"+id+"-audit.jsonl"))
		return audit.WriteJSONL(w, entries)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", attachment(kind+"-"+id+"-audit.csv"))
		return audit.WriteCSV(w, entries)
	}
	return writeJSON(w, nethttp.StatusOK, AuditTrail{Entries: entries})
}

// attachment is a Content-Disposition header offering name as the file
// name. mime.FormatMediaType quotes and escapes it (RFC 2045/2616), and
// encodes a name that is not ASCII as filename*=utf-8”… (RFC 2231, as RFC
// 6266 asks), so no id can add parameters or break out of the header.
func attachment(name string) string {
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}
