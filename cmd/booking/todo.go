package main

import (
	"context"
	"io"
)

func cmdUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return usageError{msg: "user: not available in this build"}
}

func cmdWebhook(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return usageError{msg: "webhook: not available in this build"}
}

func cmdReconcile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return usageError{msg: "reconcile: not available in this build"}
}
