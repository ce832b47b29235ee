// Package browsertest drives the product's pages in headless Chromium: a
// customer books and pays on the demo checkout and lands on the confirmed
// success page; staff find the booking and its ledger row on the dashboard,
// open its view, refund it or accept it after a review. Every test fails on a
// console error, an uncaught exception or a failed request.
//
// Each test's server runs on a test clock (pgtest.Clock) that starts at a
// chosen time of a Wednesday a week or more ahead in the resource's zone,
// and the browser's Date is moved to the same time, so the tests pass at any
// hour of any day and in any time zone.
//
// Chromium comes from Debian's package (/usr/bin/chromium, or the CHROMIUM
// environment variable). Without it the tests fail, unless BROWSER_TESTS=skip.
//
// The screenshots in docs/screenshots are made by the same tests:
//
//	cd e2e && go test ./browsertest -run TestScreenshots -screenshots ../../docs/screenshots
package browsertest
