package postgres

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The payment write path as a pgbench script, so that the benchmark
// (e2e/webhookbench, docs/BENCHMARKS.md) can run exactly the statements the
// server runs for the commonest event, without the server around them.
// TestPaidCheckoutScript traces a real ApplyEvent and fails when its
// statements, their order, their pipelines or their argument counts differ
// from paidCheckoutPath, and runs the script to check it pays bookings as
// the server does.

// pathStatement is one statement of a write path with its arguments as SQL
// expressions over the script's variables.
type pathStatement struct {
	sql  string
	args []string
}

// Expressions for booking n of a script (see PaidCheckoutScript).
const (
	pathSession = `(:prefix || :n)`
	pathBooking = `md5(:prefix || :n)::uuid`
	pathEvent   = `('evt_' || :prefix || :n)`
	pathIntent  = `('pi_' || :prefix || :n)`
)

// paidCheckoutPath is what ApplyEvent sends for a paid
// checkout.session.completed of a pending booking that holds its slot: one
// pipeline that begins, takes the PaymentIntent's lock, locks the booking
// and reads its money and the enabled webhook endpoints (none here); one
// that records the payment, confirms the booking, writes the ledger row
// with its outcome and commits.
var paidCheckoutPath = [][]pathStatement{
	{
		{"BEGIN", nil},
		{lockIntentSQL, []string{pathIntent}},
		{lockBookingBySessionSQL, []string{pathSession, pathBooking}},
		{moneyBySessionSQL, []string{pathSession, pathEvent, pathIntent, pathBooking}},
		{enabledEndpointsSQL, nil},
	},
	{
		{insertPaymentSQL, []string{pathBooking, pathSession, pathIntent, ":amount", ":currency", pathEvent, "''", "''"}},
		{updateBookingSQL, []string{pathBooking, "'confirmed'", "true", "''", "'stripe_event'", pathEvent,
			":amount", "0", pathSession, "0", "0"}},
		{insertEventSQL, []string{pathEvent, "'checkout.session.completed'", ":livemode", ":apiver", pathSession,
			pathBooking, "'processed'", "''", ":payload", "'webhook'", ":created", pathIntent}},
		{"COMMIT", nil},
	},
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// PaidCheckoutScript returns a pgbench script (run with -M prepared) of the
// statements ApplyEvent runs for a paid checkout.session.completed, in the
// same pipelines. Transaction k of client c pays booking
// n = base + k*clients + c, whose Checkout Session is prefix||n and whose
// id is md5(prefix||n)::uuid; the event is evt_<session>, its
// PaymentIntent pi_<session>. Variables to define (-D): k=0, clients,
// base, prefix, amount, currency, livemode, apiver, created (RFC 3339) and
// payload (the event's bytes as \x hex).
func PaidCheckoutScript() string {
	var b strings.Builder
	b.WriteString("-- The statements internal/postgres ApplyEvent runs for a paid checkout.session.completed,\n")
	b.WriteString("-- generated from its own constants (postgres.PaidCheckoutScript).\n")
	b.WriteString("\\set k :k + 1\n\\set n :base + :k * :clients + :client_id\n")
	for _, pipeline := range paidCheckoutPath {
		b.WriteString("\\startpipeline\n")
		for _, st := range pipeline {
			b.WriteString(bindSQL(st))
			b.WriteString(";\n")
		}
		b.WriteString("\\endpipeline\n")
	}
	return b.String()
}

// bindSQL writes st's arguments into its SQL text, one statement per line
// as pgbench reads them.
func bindSQL(st pathStatement) string {
	sql := placeholder.ReplaceAllStringFunc(st.sql, func(m string) string {
		i, _ := strconv.Atoi(m[1:])
		if i < 1 || i > len(st.args) {
			panic(fmt.Sprintf("write path: statement has $%d but %d arguments: %s", i, len(st.args), st.sql))
		}
		return st.args[i-1]
	})
	return strings.Join(strings.Fields(sql), " ")
}

// PaidCheckoutStatements returns the SQL text and argument count of each
// statement of PaidCheckoutScript, pipeline by pipeline.
func PaidCheckoutStatements() [][]PathStatement {
	out := make([][]PathStatement, len(paidCheckoutPath))
	for i, p := range paidCheckoutPath {
		for _, st := range p {
			out[i] = append(out[i], PathStatement{SQL: st.sql, Args: len(st.args)})
		}
	}
	return out
}

// PathStatement describes one statement of a write path.
type PathStatement struct {
	SQL  string
	Args int
}
