// Package browsertest drives the product's pages in headless Chromium: a
// customer books and pays on the demo checkout, lands on the confirmed
// success page, and staff see the booking and its ledger row. Every test
// fails on a console error, an uncaught exception or a failed request.
//
// Chromium comes from Debian's package (/usr/bin/chromium, or the CHROMIUM
// environment variable). Without it the tests fail, unless BROWSER_TESTS=skip.
//
// The screenshots in docs/screenshots are made by the same tests:
//
//	go test ./internal/browsertest -run TestScreenshots -screenshots ../../docs/screenshots
package browsertest
