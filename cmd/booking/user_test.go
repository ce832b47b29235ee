package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/alexedwards/argon2id"

	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

func TestUserCreate(t *testing.T) {
	t.Parallel()
	url := pgtest.NewURL(t)
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return url
		}
		return ""
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, postgres.PoolOpts{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	hashOf := func(email string) string {
		c, err := db.FindStaffCredentials(ctx, email)
		if err != nil {
			t.Fatalf("find %s: %v", email, err)
		}
		return c.PasswordHash
	}

	t.Run("password from standard input", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := run(ctx, []string{"user", "create", "--email", "Ops@Example.com", "--role", "ops"}, getenv,
			strings.NewReader("a piped passphrase\n"), &out, &errOut)
		if err != nil {
			t.Fatalf("run: %v (%s)", err, errOut.String())
		}
		if !strings.Contains(out.String(), "created OPS account ops@example.com") || strings.Contains(out.String(), "passphrase") {
			t.Fatalf("output %q", out.String())
		}
		if ok, err := argon2id.ComparePasswordAndHash("a piped passphrase", hashOf("ops@example.com")); err != nil || !ok {
			t.Fatalf("stored hash does not match the piped password: %v", err)
		}
	})

	t.Run("generated password is printed once", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(ctx, []string{"user", "create", "--email", "admin@example.com", "--role", "ADMIN"}, getenv,
			strings.NewReader(""), &out, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		_, after, ok := strings.Cut(out.String(), "password: ")
		pw, _, _ := strings.Cut(after, "\n")
		if !ok || len(pw) < 20 {
			t.Fatalf("output %q", out.String())
		}
		h := hashOf("admin@example.com")
		if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=1,p=2$") {
			t.Fatalf("hash parameters %q", h)
		}
		if ok, err := argon2id.ComparePasswordAndHash(pw, h); err != nil || !ok {
			t.Fatal("the printed password does not match the stored hash")
		}
	})

	t.Run("mistakes", func(t *testing.T) {
		cases := []struct {
			name  string
			args  []string
			stdin string
			want  string
		}{
			{"bad role", []string{"user", "create", "--email", "x@example.com", "--role", "ROOT"}, "", "--role"},
			{"bad email", []string{"user", "create", "--email", "nope", "--role", "OPS"}, "", "--email"},
			{"short password", []string{"user", "create", "--email", "x@example.com", "--role", "OPS"}, "short\n", "password"},
			{"taken email", []string{"user", "create", "--email", "ops@example.com", "--role", "OPS"}, "", "exists"},
			{"no subcommand", []string{"user"}, "", ""},
		}
		for _, tc := range cases {
			err := run(ctx, tc.args, getenv, strings.NewReader(tc.stdin), &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s: err %v, want one mentioning %q", tc.name, err, tc.want)
			}
		}
	})
}
