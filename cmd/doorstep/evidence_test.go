package main

import (
	"maps"
	"time"
)

// evidence completes the body of a completed home visit with what the
// shipped policy asks of any household class (decision 0120): the team with
// roles (the recorder as grid worker, a doctor and a volunteer), the
// purpose, the five understandings, the next contact and a check-in at the
// visit. The recorder must be on the team: it is the token's name.
func evidence(recorder string, body map[string]any) map[string]any {
	out := maps.Clone(body)
	delete(out, "team")
	out["members"] = []map[string]string{{"person": recorder, "role": "grid_worker"}, {"person": "医生王", "role": "doctor"}, {"person": "志愿者小陈", "role": "volunteer"}}
	out["purpose"] = "routine"
	out["covered"] = []string{"health", "economic", "support_obligations", "home_safety", "service_needs"}
	at, _ := out["occurred_at"].(string)
	t, _ := time.Parse(time.RFC3339, at)
	out["next_contact"] = map[string]string{"person": recorder, "at": t.Add(7 * 24 * time.Hour).Format(time.RFC3339)}
	out["check_in"] = map[string]string{"at": at, "ref": "checkin-1"}
	return out
}
