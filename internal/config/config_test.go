package config

import (
	"os"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Port != 3000 || c.Env != "development" || c.HoldMinutes != 30 || !c.DemoPayments || c.CookieSecure {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.AppURL != "http://localhost:3000" || c.ListenAddr != ":3000" {
		t.Fatalf("AppURL %q ListenAddr %q", c.AppURL, c.ListenAddr)
	}
}

func TestLoadReportsEveryProblemOnItsOwnLine(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{
		"APP_ENV": "staging", "PORT": "abc", "HOLD_MINUTES": "5", "DATABASE_URL": "mysql://x",
		"STRIPE_WEBHOOK_SECRET": "nope", "LOG_LEVEL": "loud", "TRUST_PROXY": "maybe",
	}))
	if err == nil {
		t.Fatal("Load accepted a bad configuration")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, want := range []string{"APP_ENV", "PORT", "HOLD_MINUTES", "DATABASE_URL", "STRIPE_WEBHOOK_SECRET", "LOG_LEVEL", "TRUST_PROXY"} {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, want+":") {
				found = true
			}
		}
		if !found {
			t.Errorf("no line for %s in:\n%s", want, err)
		}
	}
}

func TestLoadProduction(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{"APP_ENV": "production", "APP_URL": "http://example.com", "DEMO_PAYMENTS": "true", "COOKIE_SECURE": "false"}))
	if err == nil {
		t.Fatal("production without Stripe keys was accepted")
	}
	for _, want := range []string{"STRIPE_SECRET_KEY: required", "STRIPE_WEBHOOK_SECRET: required", "DEMO_PAYMENTS:", "APP_URL: must use https", "COOKIE_SECURE:",
		"SMTP_URL: required", "MAIL_FROM: required", "STAFF_NOTIFY_EMAIL: required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%s", want, err)
		}
	}
	c, err := Load(env(map[string]string{"NODE_ENV": "production", "APP_URL": "https://book.example.com",
		"STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_new, whsec_old",
		"SMTP_URL": "smtps://mailer:s3cret@smtp.example.com", "MAIL_FROM": "Studio <bookings@example.com>",
		"STAFF_NOTIFY_EMAIL": "staff@example.com"}))
	if err != nil {
		t.Fatalf("valid production config: %v", err)
	}
	if !c.Production() || c.DemoPayments || !c.CookieSecure || len(c.WebhookSecret) != 2 || c.WebhookSecret[1] != "whsec_old" ||
		c.SMTP == nil || c.SMTP.Host != "smtp.example.com" || c.SMTP.Port != 465 || c.StaffNotifyEmail != "staff@example.com" {
		t.Fatalf("unexpected production config: %+v", c)
	}
}

func TestErrorsNeverEchoSecrets(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{"STRIPE_SECRET_KEY": "pk_live_SECRETVALUE", "DATABASE_URL": "postgres://u:hunter2@[::1"}))
	if err == nil {
		t.Fatal("bad keys accepted")
	}
	if strings.Contains(err.Error(), "SECRETVALUE") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error echoes a secret: %s", err)
	}
}

// The README's configuration table and .env.example document every variable.
func TestDocsListEveryVariable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(readme), "| `"+v.Name+"` |") {
			t.Errorf("README.md configuration table lacks %s", v.Name)
		}
	}
}

func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"SESSION_IDLE_TIMEOUT": "15m", "SESSION_LIFETIME": "8h"}))
	if err != nil || c.SessionIdle.Minutes() != 15 || c.SessionLifetime.Hours() != 8 {
		t.Fatalf("config %+v err %v", c, err)
	}
	_, err = Load(env(map[string]string{"SESSION_IDLE_TIMEOUT": "2h", "SESSION_LIFETIME": "1h"}))
	if err == nil || !strings.Contains(err.Error(), "SESSION_IDLE_TIMEOUT: must not be longer") {
		t.Fatalf("idle longer than lifetime accepted: %v", err)
	}
	_, err = Load(env(map[string]string{"SESSION_LIFETIME": "forever"}))
	if err == nil || !strings.Contains(err.Error(), "SESSION_LIFETIME:") {
		t.Fatalf("bad lifetime accepted: %v", err)
	}
}

func TestJobWorkers(t *testing.T) {
	t.Parallel()
	if c, err := Load(env(nil)); err != nil || c.JobWorkers != 4 {
		t.Fatalf("default: %d, %v", c.JobWorkers, err)
	}
	if c, err := Load(env(map[string]string{"JOB_WORKERS": "32"})); err != nil || c.JobWorkers != 32 {
		t.Fatalf("JOB_WORKERS=32: %d, %v", c.JobWorkers, err)
	}
	for _, v := range []string{"0", "201", "many"} {
		if _, err := Load(env(map[string]string{"JOB_WORKERS": v})); err == nil || !strings.Contains(err.Error(), "JOB_WORKERS") {
			t.Fatalf("JOB_WORKERS=%s accepted: %v", v, err)
		}
	}
}
