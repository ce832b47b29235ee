package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func cmdSeed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{}
	}
	_, db, err := openStore(ctx, getenv, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	existing, err := db.ListResources(ctx, true)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		fmt.Fprintf(stdout, "%d resource(s) exist; nothing to seed\n", len(existing))
		return nil
	}
	r := booking.DemoResource()
	created, err := db.CreateResource(ctx, &r, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created demo resource %q (%s)\n", created.Name, created.ID)
	return nil
}

func cmdHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "health URL (default http://127.0.0.1:$PORT/health)")
	if err := fs.Parse(args); err != nil {
		return usageError{}
	}
	if *url == "" {
		port := getenv("PORT")
		if port == "" {
			port = "3000"
		}
		*url = "http://127.0.0.1:" + port + "/health"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usageError{msg: "invalid --url"}
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s", resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
