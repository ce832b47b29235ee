package mailer_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bookingplatform/booking/internal/mailer"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		want mailer.Config
	}{
		{"STARTTLS, default port", "smtp://smtp.example.com", mailer.Config{Host: "smtp.example.com", Port: 587, TLS: mailer.TLSMandatory}},
		{"credentials", "smtp://apikey:s3cret@smtp.example.com:2525", mailer.Config{Host: "smtp.example.com", Port: 2525, Username: "apikey", Password: "s3cret", TLS: mailer.TLSMandatory}},
		{"escaped credentials", "smtp://me%40example.com:p%40ss%2Fw%3Ard%23@smtp.example.com", mailer.Config{Host: "smtp.example.com", Port: 587, Username: "me@example.com", Password: "p@ss/w:rd#", TLS: mailer.TLSMandatory}},
		{"implicit TLS, default port", "smtps://u:p@smtp.example.com", mailer.Config{Host: "smtp.example.com", Port: 465, Username: "u", Password: "p", TLS: mailer.TLSImplicit}},
		{"scheme in capitals", "SMTPS://smtp.example.com:8465", mailer.Config{Host: "smtp.example.com", Port: 8465, TLS: mailer.TLSImplicit}},
		{"loopback IPv4 is opportunistic", "smtp://127.0.0.1:1025", mailer.Config{Host: "127.0.0.1", Port: 1025, TLS: mailer.TLSOpportunistic}},
		{"loopback IPv6 is opportunistic", "smtp://[::1]:1025", mailer.Config{Host: "::1", Port: 1025, TLS: mailer.TLSOpportunistic}},
		{"localhost is opportunistic", "smtp://localhost:1025", mailer.Config{Host: "localhost", Port: 1025, TLS: mailer.TLSOpportunistic}},
		{"override to none", "smtp://mailpit:1025?tls=none", mailer.Config{Host: "mailpit", Port: 1025, TLS: mailer.TLSNone}},
		{"override to opportunistic", "smtp://relay.internal:25?tls=opportunistic", mailer.Config{Host: "relay.internal", Port: 25, TLS: mailer.TLSOpportunistic}},
		{"override loopback to mandatory", "smtp://127.0.0.1:1025?tls=MANDATORY", mailer.Config{Host: "127.0.0.1", Port: 1025, TLS: mailer.TLSMandatory}},
		{"trailing slash and spaces", "  smtp://smtp.example.com:587/  ", mailer.Config{Host: "smtp.example.com", Port: 587, TLS: mailer.TLSMandatory}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := mailer.ParseURL(tc.raw)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tc.raw, err)
			}
			if got != tc.want {
				t.Errorf("ParseURL(%q) = %#v, want %#v", tc.raw, got, tc.want)
			}
		})
	}
}

// Errors say what is wrong and never contain the password, even when the
// password is what breaks the URL.
func TestParseURLErrors(t *testing.T) {
	t.Parallel()
	const pw = "Zq9pw"
	tests := []struct {
		name, raw, want string
	}{
		{"empty", "", "empty"},
		{"no scheme", "smtp.example.com:587", "scheme"},
		{"other scheme", "http://u:" + pw + "@smtp.example.com", "smtp:// (STARTTLS) or smtps://"},
		{"no host", "smtp://u:" + pw + "@:587", "no host"},
		{"port out of range", "smtp://u:" + pw + "@smtp.example.com:70000", "port"},
		{"port not a number", "smtp://u:" + pw + "@smtp.example.com:abc", "not a valid URL"},
		{"unescaped slash in password", "smtp://u:" + pw + "/x@smtp.example.com", "percent-encode"},
		{"unescaped hash in password", "smtp://u:" + pw + "#x@smtp.example.com", "percent-encode"},
		{"unescaped question mark in password", "smtp://u:12?" + pw + "@smtp.example.com", "percent-encode"},
		{"numeric password and unescaped hash", "smtp://u:99999#" + pw + "@smtp.example.com", "percent-encode"},
		{"bad escape in password", "smtp://u:" + pw + "%zz@smtp.example.com", "not a valid URL"},
		{"user without password", "smtp://u@smtp.example.com", "no password"},
		{"password without user", "smtp://:" + pw + "@smtp.example.com", "no user name"},
		{"unknown tls value", "smtp://u:" + pw + "@smtp.example.com?tls=sometimes", "want none, opportunistic or mandatory"},
		{"tls with smtps", "smtps://u:" + pw + "@smtp.example.com?tls=none", "only applies to smtp://"},
		{"unknown parameter", "smtp://u:" + pw + "@smtp.example.com?auth=plain", `"auth"`},
		{"path", "smtp://u:" + pw + "@smtp.example.com/mail", "path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := mailer.ParseURL(tc.raw)
			if err == nil {
				t.Fatalf("ParseURL(%q) succeeded, want an error", tc.raw)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "99999") {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestConfigStringMasksThePassword(t *testing.T) {
	t.Parallel()
	cfg, err := mailer.ParseURL("smtp://apikey:Zq9pw-secret@smtp.example.com:2525")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(&cfg)} {
		if strings.Contains(s, "Zq9pw") {
			t.Errorf("%q shows the password", s)
		}
	}
	if got, want := cfg.String(), "smtp://apikey:xxxxx@smtp.example.com:2525?tls=mandatory"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	back, err := mailer.ParseURL(strings.Replace(cfg.String(), "xxxxx", "Zq9pw-secret", 1))
	if err != nil || back != cfg {
		t.Errorf("String() does not parse back: %#v, %v", back, err)
	}
}
