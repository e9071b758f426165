package http

import (
	"bytes"
	"errors"
	"fmt"
	nethttp "net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// Large command bodies (decision 0133). A command body is usually a few
// hundred bytes; one over bigBodyBytes (or of unknown length) is read and
// handled while holding one of maxBigBodies slots, waiting for one under
// the request's context. Each such request holds several copies of its
// body at once (the body, the JSON decoder's buffer, an unknown field's
// name in the decoder's error), so sixteen clients sending 900 KB bodies
// at once pushed the server's memory past its budget (issue 13 item 2).
const (
	bigBodyBytes = 64 << 10
	maxBigBodies = 4
)

// readBody reads the whole (size-limited) body into a buffer of its
// declared length. release gives back the large-body slot it may hold:
// call it when the request is done (on an error the slot is already
// given back). A body declared larger than
// Config.MaxBodyBytes is refused before it is read.
func (s *Server) readBody(r *nethttp.Request) (body []byte, release func(), err error) {
	release = func() {}
	n := r.ContentLength
	if n > s.cfg.MaxBodyBytes {
		return nil, release, tooLarge(s.cfg.MaxBodyBytes)
	}
	if n < 0 || n > bigBodyBytes {
		s.bigWaiting.Add(1)
		select {
		case s.bigBodies <- struct{}{}:
			s.bigWaiting.Add(-1)
			release = func() { <-s.bigBodies }
		case <-r.Context().Done():
			s.bigWaiting.Add(-1)
			return nil, release, newErr(ErrUnavailable, "server_busy", "",
				"the request ended while waiting for the server to read its large body; retry",
				"等待服务器读取较大的请求体时请求已结束；请重试")
		}
	}
	var buf bytes.Buffer
	if n > 0 {
		buf.Grow(int(n) + bytes.MinRead) // one allocation, not a doubling series
	}
	if _, err = buf.ReadFrom(r.Body); err != nil {
		release() // the caller releases only what it read
		var mbe *nethttp.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, func() {}, tooLarge(mbe.Limit)
		}
		return nil, func() {}, err
	}
	if k, ok := longKey(buf.Bytes(), maxKeyBytes); ok {
		// No request has such a field. Refused before the JSON decoder
		// sees it: the decoder folds the name for matching and quotes it
		// whole in its error, several large copies per request.
		release()
		f := clip(k)
		return nil, func() {}, newErr(ErrBadRequest, "unknown_field", f, fmt.Sprintf("field %q is not part of this request; check the spelling against /openapi.json", f),
			fmt.Sprintf("字段 %q 不属于此请求；请对照 /openapi.json 检查拼写", f))
	}
	return buf.Bytes(), release, nil
}

// maxKeyBytes bounds the name of a field (an object key) of a command
// body as written, escapes included; the longest the API knows is far
// shorter.
const maxKeyBytes = 256

// longKey returns the start of the first object key in body longer than
// max bytes as written, if there is one. It reads valid JSON correctly and
// does not judge the rest: a malformed body is left to the decoder.
func longKey(body []byte, max int) (string, bool) {
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		start := i + 1
		j := start
		for j < len(body) && body[j] != '"' {
			if body[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(body) {
			return "", false
		}
		k := j + 1
		for k < len(body) && (body[k] == ' ' || body[k] == '\t' || body[k] == '\n' || body[k] == '\r') {
			k++
		}
		if k < len(body) && body[k] == ':' && j-start > max {
			return string(body[start : start+max]), true
		}
		i = j
	}
	return "", false
}

// watchBodies exports how many large command bodies are being handled and
// how many wait for a slot.
func (m *metrics) watchBodies(s *Server) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "doorstep", Subsystem: "http", Name: "large_bodies_in_progress",
		Help: "Commands with a body over 64 KiB being read and handled; at most 4 at once.",
	}, func() float64 { return float64(len(s.bigBodies)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "doorstep", Subsystem: "http", Name: "large_bodies_waiting",
			Help: "Commands with a body over 64 KiB waiting for one of the 4 slots.",
		}, func() float64 { return float64(s.bigWaiting.Load()) }))
}
