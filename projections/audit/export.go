package audit

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
)

// WriteJSONL writes one JSON object per entry and line.
func WriteJSONL(w io.Writer, entries []Entry) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range entries {
		if err := enc.Encode(&entries[i]); err != nil {
			return err
		}
	}
	return nil
}

// CSVCell defuses a cell a spreadsheet would read as a formula (CSV
// injection, OWASP): a value starting with '=', '+', '-', '@', a tab or a
// carriage return gets a leading single quote, which spreadsheets show as
// text and do not evaluate. Other values are unchanged.
func CSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// CSVHeader is the bilingual header row of WriteCSV.
var CSVHeader = []string{"position / 位置", "event_id / 事件编号", "stream / 事件流", "version / 版本", "type / 类型",
	"occurred_at / 发生时间", "recorded_at / 记录时间", "actor / 操作人", "role / 角色", "changes / 变更", "reason / 原因", "summary / 摘要"}

// WriteCSV writes entries as CSV with CSVHeader; changes are written one
// per line inside their cell as "field: before → after", and the last
// column is the entry's Summary (what happened, in English and Chinese). Every cell goes
// through CSVCell, so nothing a user typed is run as a spreadsheet formula.
func WriteCSV(w io.Writer, entries []Entry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, e := range entries {
		var ch []string
		for _, c := range e.Changes {
			ch = append(ch, c.Field+": "+c.Before+" → "+c.After)
		}
		row := []string{e.Position.String(), e.EventID, e.Stream, strconv.FormatUint(e.Version, 10), e.Type,
			e.OccurredAt.UTC().Format(time.RFC3339Nano), e.RecordedAt.UTC().Format(time.RFC3339Nano), e.Actor, e.Role,
			strings.Join(ch, "\n"), e.Reason, e.Summary}
		for i := range row {
			row[i] = CSVCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
