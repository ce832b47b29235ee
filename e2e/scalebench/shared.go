package main

import "github.com/bookingplatform/booking/e2e/internal/bench"

// What the benchmark tools share (e2e/internal/bench).
type Machine = bench.Machine

var (
	machineInfo      = bench.MachineInfo
	pgbenchLatencies = bench.PgbenchLatencies
	lastLines        = bench.LastLines
	ms               = bench.Ms
)
