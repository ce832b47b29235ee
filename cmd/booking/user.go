package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
)

// cmdUser manages staff accounts: `user create --email --role`.
func cmdUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "Usage: booking user create --email EMAIL --role ADMIN|OPS|READONLY")
		fmt.Fprintln(stderr, "The password is read from standard input when it is piped, else generated and printed once.")
		return usageError{}
	}
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	emailFlag := fs.String("email", "", "email address of the account")
	roleFlag := fs.String("role", "", "ADMIN, OPS or READONLY")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{}
	}
	if fs.NArg() > 0 {
		return usageError{msg: "user create: unexpected argument " + fs.Arg(0)}
	}
	email := booking.NormalizeEmail(*emailFlag)
	role := booking.Role(strings.ToUpper(strings.TrimSpace(*roleFlag)))
	v := booking.ValidationError{}
	booking.ValidateStaffEmail(v, "--email", email)
	if !role.Valid() {
		v.Add("--role", "Must be ADMIN, OPS or READONLY.")
	}
	password, piped, err := stdinPassword(stdin)
	if err != nil {
		return err
	}
	if piped {
		booking.ValidatePassword(v, "password (standard input)", password)
	}
	if len(v) > 0 {
		var lines []string
		for _, f := range []string{"--email", "--role", "password (standard input)"} {
			if msg, ok := v[f]; ok {
				lines = append(lines, "user create: "+f+": "+msg)
			}
		}
		return usageError{msg: strings.Join(lines, "\n")}
	}
	if !piped {
		password = auth.GeneratePassword()
	}

	_, db, err := openStore(ctx, getenv, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	hash, err := auth.HashPassword(password, nil)
	if err != nil {
		return err
	}
	st, err := db.CreateStaff(ctx, booking.NewStaff{Email: email, Role: role, PasswordHash: hash})
	if err != nil {
		var be *booking.Error
		if errors.As(err, &be) && be.Fields["email"] != "" {
			return fmt.Errorf("user create: %s: an account with this email exists", email)
		}
		return fmt.Errorf("user create: %w", err)
	}
	fmt.Fprintf(stdout, "created %s account %s (%s)\n", st.Role, st.Email, st.ID)
	if !piped {
		fmt.Fprintf(stdout, "password: %s\n", password)
		fmt.Fprintln(stdout, "This password is shown once; keep it in a password manager.")
	}
	return nil
}

// stdinPassword reads a password from the first line of standard input when
// it is piped (not a terminal). Empty input counts as none.
func stdinPassword(stdin io.Reader) (string, bool, error) {
	if stdin == nil {
		return "", false, nil
	}
	if f, ok := stdin.(*os.File); ok {
		fi, err := f.Stat()
		if err != nil || fi.Mode()&os.ModeCharDevice != 0 {
			return "", false, nil
		}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", false, nil
	}
	return line, true, nil
}
