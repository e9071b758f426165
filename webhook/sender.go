package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	wmhttp "github.com/ThreeDotsLabs/watermill-http/v2/pkg/http"
	"github.com/ThreeDotsLabs/watermill/message"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/domain"
)

// Bounds of one delivery attempt.
const (
	DefaultTimeout     = 10 * time.Second // the whole attempt: connect, send, the answer's headers
	maxResponseHeaders = 16 << 10
	maxDrain           = 64 << 10 // bytes of an answer's body read (and discarded) to reuse the connection
	maxErrorText       = 300
	userAgent          = "Doorstep-Webhooks/1"
)

// Result is how one attempt went.
type Result struct {
	Code    int           // the receiver's HTTP status; 0 when it did not answer
	Err     error         // nil: delivered (2xx)
	Latency time.Duration // from sending the request to the answer's headers
}

// Sender posts signed CloudEvents to receivers through Watermill's HTTP
// publisher (github.com/ThreeDotsLabs/watermill-http): one POST per
// message, its body the structured-mode CloudEvent, signed as the Standard
// Webhooks specification says. It never follows a redirect and reads at
// most 64 KiB of an answer's body. Safe for concurrent use.
type Sender struct {
	pub *wmhttp.Publisher
	now func() time.Time
}

// NewSender returns a sender whose attempts last at most timeout (0:
// DefaultTimeout). transport, when not nil, replaces the default
// transport (tests and benchmarks may wrap it).
func NewSender(timeout time.Duration, now func() time.Time, transport http.RoundTripper) (*Sender, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if now == nil {
		now = time.Now
	}
	if transport == nil {
		transport = &http.Transport{
			Proxy:                  nil, // deliveries go where the URL says
			DialContext:            (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: maxResponseHeaders,
			MaxIdleConns:           MaxSubscriptions,
			MaxIdleConnsPerHost:    2,
			IdleConnTimeout:        90 * time.Second,
			DisableCompression:     true,
			ForceAttemptHTTP2:      true,
		}
	}
	client := &http.Client{
		Transport: recording{transport},
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errRedirect
		},
	}
	pub, err := wmhttp.NewPublisher(wmhttp.PublisherConfig{MarshalMessageFunc: marshal, Client: client, DoNotLogResponseBodyOnServerError: true}, nil)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return &Sender{pub: pub, now: now}, nil
}

var errRedirect = fmt.Errorf("the receiver answered with a redirect; redirects are not followed (register the final URL)")

// Metadata keys of the Watermill message carrying the signature headers.
const (
	metaID        = standardwebhooks.HeaderWebhookID
	metaTimestamp = standardwebhooks.HeaderWebhookTimestamp
	metaSignature = standardwebhooks.HeaderWebhookSignature
)

// marshal turns a Watermill message into the POST request: the CloudEvent
// as body, the Standard Webhooks headers from the metadata.
func marshal(url string, msg *message.Message) (*http.Request, error) {
	req, err := http.NewRequestWithContext(msg.Context(), http.MethodPost, url, bytes.NewReader(msg.Payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", cloudevent.ContentType)
	req.Header.Set("User-Agent", userAgent)
	for _, k := range []string{metaID, metaTimestamp, metaSignature} {
		req.Header.Set(k, msg.Metadata.Get(k))
	}
	return req, nil
}

// Sign returns the Standard Webhooks signature headers of body: webhook-id
// (the event id, the same on every attempt so that receivers de-duplicate),
// webhook-timestamp (seconds since the epoch, of this attempt) and
// webhook-signature ("v1," + base64 HMAC-SHA256 of "id.timestamp.body"
// under the secret), computed by the Standard Webhooks library.
func Sign(secret, id string, at time.Time, body []byte) (http.Header, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, fmt.Errorf("webhook: the signing secret is unusable: %w", err)
	}
	sig, err := wh.Sign(id, at, body)
	if err != nil {
		return nil, fmt.Errorf("webhook: sign: %w", err)
	}
	h := http.Header{}
	h.Set(metaID, id)
	h.Set(metaTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(metaSignature, sig)
	return h, nil
}

// Send makes one attempt to post body to url, signed with secret.
func (s *Sender) Send(ctx context.Context, url, secret, id string, body []byte) Result {
	h, err := Sign(secret, id, s.now(), body)
	if err != nil {
		return Result{Err: err}
	}
	msg := message.NewMessage(id, body)
	for _, k := range []string{metaID, metaTimestamp, metaSignature} {
		msg.Metadata.Set(k, h.Get(k))
	}
	o := &outcome{}
	msg.SetContext(context.WithValue(ctx, outcomeKey{}, o))
	start := time.Now()
	err = s.pub.Publish(url, msg)
	r := Result{Code: o.code, Latency: time.Since(start)}
	switch {
	case err == nil && o.code >= 200 && o.code < 300:
		return r
	case o.code >= 400:
		r.Err = fmt.Errorf("the receiver answered %d %s", o.code, http.StatusText(o.code))
	case err == nil:
		r.Err = fmt.Errorf("the receiver answered %d, not 2xx", o.code)
	default:
		r.Err = fmt.Errorf("%s", domain.Clip(err.Error(), maxErrorText))
	}
	return r
}

// Close releases the publisher.
func (s *Sender) Close() error { return s.pub.Close() }

type outcomeKey struct{}

// outcome carries the answer's status from the transport to Send: the
// Watermill publisher reports only success or an error.
type outcome struct{ code int }

// recording is the client's transport: it notes the answer's status,
// refuses redirects and bounds what is read of a body.
type recording struct{ base http.RoundTripper }

func (t recording) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if o, ok := req.Context().Value(outcomeKey{}).(*outcome); ok {
		o.code = resp.StatusCode
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		drain(resp.Body)
		return nil, errRedirect
	}
	resp.Body = drainer{resp.Body}
	return resp, nil
}

// drainer reads at most maxDrain bytes of a body before closing it, so that
// a small answer leaves the connection reusable and a large one costs
// nothing more.
type drainer struct{ io.ReadCloser }

func (d drainer) Close() error { drain(d.ReadCloser); return nil }

func drain(b io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(b, maxDrain))
	_ = b.Close()
}
