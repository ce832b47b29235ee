// Package webhook sends the product's outgoing webhooks: it signs a payload
// per the Standard Webhooks specification (webhook-id, webhook-timestamp,
// webhook-signature) and posts it with a client that follows no redirect,
// gives up after a timeout, reads at most 1 KB of the answer and, in
// production, refuses at connect time every address that is not public
// (loopback, private, link-local, unspecified, multicast…) unless the
// operator allowed its network (WEBHOOK_ALLOWED_NETWORKS). Checking at
// connect time, on the address actually dialled, covers DNS names that
// resolve to such addresses and DNS rebinding.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ResponseLimit is how much of an answer is read and kept in the log.
const ResponseLimit = 1024

// DefaultTimeout bounds one delivery: connect, send, answer.
const DefaultTimeout = 10 * time.Second

// Sign returns the webhook-signature header value of body: "v1," and the
// base64 of HMAC-SHA256 over "<id>.<timestamp>.<body>", keyed with the
// base64-decoded part of secret after "whsec_".
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", errors.New("webhook secret is not whsec_ and base64")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// ErrRefused is returned for an address the client may not connect to.
var ErrRefused = errors.New("address not allowed")

// Policy says which addresses the client may reach.
type Policy struct {
	// Public: only public unicast addresses (production), plus Allowed.
	Public bool
	// Allowed are networks reachable even when not public.
	Allowed []netip.Prefix
}

// ParseNetworks parses a comma-separated list of CIDRs.
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR (like 10.0.0.0/8)", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Allows reports whether the client may connect to ip.
func (p Policy) Allows(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, n := range p.Allowed {
		if n.Contains(ip) {
			return true
		}
	}
	if !p.Public {
		return true
	}
	return public(ip)
}

// nonPublic are the special-purpose ranges not listed by netip's own
// predicates (RFC 6890 and its successors).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 may reach private IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"), // 6to4 embeds any IPv4 address
}

func public(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, n := range nonPublic {
		if n.Contains(ip) {
			return false
		}
	}
	return true
}

// control refuses, at connect time, an address the policy does not allow.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrRefused, address)
	}
	if !p.Allows(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address", ErrRefused, ap.Addr())
	}
	return nil
}

// CheckURL is the save-time check of a URL: its shape and, when the policy
// allows only public addresses, every address its host resolves to now.
// The connect-time check still applies to every delivery.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return errors.New("not an http or https URL")
	}
	if !p.Public {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !p.Allows(ip) {
			return errors.New("not a public address")
		}
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil {
		return errors.New("the host name does not resolve")
	}
	for _, ip := range ips {
		if !p.Allows(ip) {
			return errors.New("the host name resolves to an address that is not public")
		}
	}
	return nil
}

// Client posts signed payloads.
type Client struct {
	http *http.Client
	// Agent is the User-Agent header.
	Agent string
}

// NewClient returns a client under policy p; timeout 0 means DefaultTimeout.
func NewClient(p Policy, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	d := &net.Dialer{Timeout: 5 * time.Second, Control: p.control}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would connect for us, past the check
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &Client{
		http: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		Agent: "booking-webhooks/1",
	}
}

// Message is one event to deliver.
type Message struct {
	URL       string
	Secret    string
	ID        string
	Timestamp time.Time
	Body      []byte
}

// Result is what one attempt got. Err is set when no answer came (refused
// address, timeout, connection error); a non-2xx answer is a Status.
type Result struct {
	Status   int
	Response string
	Latency  time.Duration
	Err      error
}

// Delivered reports whether the receiver answered 2xx.
func (r *Result) Delivered() bool { return r.Err == nil && r.Status >= 200 && r.Status < 300 }

// Send posts m, signed, and returns what came back.
func (c *Client) Send(ctx context.Context, m Message) Result {
	sig, err := Sign(m.Secret, m.ID, m.Timestamp, m.Body)
	if err != nil {
		return Result{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return Result{Err: errors.New("bad endpoint URL")}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return Result{Err: errors.New("endpoint URL is not http or https")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.Agent)
	req.Header.Set("webhook-id", m.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(m.Timestamp.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return Result{Err: cleanError(err), Latency: time.Since(start)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, ResponseLimit))
	return Result{Status: resp.StatusCode, Response: excerpt(b), Latency: time.Since(start)}
}

// excerpt makes at most ResponseLimit bytes of an answer storable text:
// invalid UTF-8 (a character cut by the limit, binary) and NULs dropped.
func excerpt(b []byte) string {
	return strings.ReplaceAll(strings.ToValidUTF8(string(b), ""), "\x00", "")
}

// cleanError says what went wrong without the URL (which may carry a
// receiver's own token in its query).
func cleanError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, ErrRefused):
		return err
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return errors.New("timed out")
	}
	return err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
