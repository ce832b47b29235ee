// Package modeltest holds the model-based test of the money rules (SPEC §2
// and §3.1): seeded random histories of bookings, Stripe events delivered
// late, twice, out of order or never, disputes, Dashboard refunds, staff
// actions, return pages, sweeps with the clock moved and Stripe failures,
// run against the real server code and a real PostgreSQL, and compared after
// every step with a small reference model. It has only tests.
//
//	go test ./internal/modeltest                       # MODEL_HISTORIES (default 200) histories
//	MODEL_HISTORIES=5000 go test ./internal/modeltest  # make soak
//	MODEL_SEED=1234 go test -v ./internal/modeltest    # one history, step by step
package modeltest
