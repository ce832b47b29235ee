package webhook

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestPolicyAllows(t *testing.T) {
	t.Parallel()
	prod := Policy{Public: true}
	allowLoopback := Policy{Public: true, Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	for _, tc := range []struct {
		name   string
		ip     string
		policy Policy
		want   bool
	}{
		{"public v4", "93.184.216.34", prod, true},
		{"public v6", "2606:2800:220:1:248:1893:25c8:1946", prod, true},
		{"loopback", "127.0.0.1", prod, false},
		{"loopback v6", "::1", prod, false},
		{"v4-mapped loopback", "::ffff:127.0.0.1", prod, false},
		{"metadata", "169.254.169.254", prod, false},
		{"private 10", "10.0.0.1", prod, false},
		{"private 192.168", "192.168.1.1", prod, false},
		{"unique local v6", "fd00::1", prod, false},
		{"link-local v6", "fe80::1", prod, false},
		{"unspecified", "0.0.0.0", prod, false},
		{"multicast", "224.0.0.1", prod, false},
		{"carrier-grade NAT", "100.64.0.1", prod, false},
		{"NAT64 of loopback", "64:ff9b::7f00:1", prod, false},
		{"allowed network", "127.0.0.1", allowLoopback, true},
		{"allowed network, mapped", "::ffff:127.0.0.2", allowLoopback, true},
		{"outside the allowed network", "169.254.169.254", allowLoopback, false},
		{"development", "127.0.0.1", Policy{}, true},
	} {
		if got := tc.policy.Allows(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("%s: Allows(%s) = %v, want %v", tc.name, tc.ip, got, tc.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prod := Policy{Public: true}
	for _, u := range []string{"ftp://example.com/", "http://127.0.0.1/", "http://[::1]:8080/", "http://localhost/",
		"http://169.254.169.254/latest", "http:///nohost"} {
		if err := prod.CheckURL(ctx, u); err == nil {
			t.Errorf("CheckURL(%s) accepted", u)
		}
	}
	if err := prod.CheckURL(ctx, "https://93.184.216.34/hook"); err != nil {
		t.Errorf("public address refused: %v", err)
	}
}

// The signature of the Standard Webhooks specification's example.
func TestSignSpecExample(t *testing.T) {
	t.Parallel()
	sig, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; sig != want {
		t.Fatalf("signature %s, want %s", sig, want)
	}
	if _, err := Sign("not base64!", "id", time.Now(), nil); err == nil || !strings.Contains(err.Error(), "whsec_") {
		t.Fatalf("bad secret: %v", err)
	}
}
