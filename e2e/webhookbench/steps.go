package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/bookingplatform/booking/internal/postgres"
)

// A step is one pgbench script of the write path, built up from the
// minimal durable work one piece at a time.
type step struct {
	name   string
	script string // path of the script pgbench runs
	shown  string // how the script is named in the output
}

// writeSteps are the steps from bench/ (dir) and the product's own
// statements, written into tmp: the minimal work, plus the payment row, the
// same in one round trip, the product's statements (ApplyEvent for a paid
// checkout, without its message job), and those with the job row, sent
// with the writes or in a round trip of its own.
func writeSteps(dir, tmp string) ([]step, error) {
	job, err := os.ReadFile(filepath.Join(dir, "write_steps", "job_row.sql"))
	if err != nil {
		return nil, err
	}
	product := postgres.PaidCheckoutScript()
	i := strings.LastIndex(product, "COMMIT;")
	if i < 0 {
		return nil, errors.New("the product's script has no COMMIT")
	}
	withJob := product[:i] + string(job) + product[i:]
	// payment.sql as one pipeline: the same statements, sent without
	// waiting for each.
	payment, err := os.ReadFile(filepath.Join(dir, "write_steps", "payment.sql"))
	if err != nil {
		return nil, err
	}
	b, c := strings.Index(string(payment), "\nBEGIN;"), strings.LastIndex(string(payment), "COMMIT;")
	if b < 0 || c < b {
		return nil, errors.New("payment.sql has no BEGIN ... COMMIT")
	}
	pipelined := string(payment[:b]) + "\n\\startpipeline" + string(payment[b:c]) + "COMMIT;\n\\endpipeline\n"
	// As the product sends it today: River's insert is a round trip of its
	// own between the reads and the writes.
	j := strings.LastIndex(product, `\startpipeline`)
	if j < 0 {
		return nil, errors.New("the product's script has no second pipeline")
	}
	ownTrip := product[:j] + string(job) + product[j:]
	generated := []struct{ name, text string }{{"payment_pipelined.sql", pipelined}, {"product.sql", product},
		{"product_job.sql", withJob}, {"product_job_trip.sql", ownTrip}}
	for _, g := range generated {
		if err := os.WriteFile(filepath.Join(tmp, g.name), []byte(g.text), 0o600); err != nil {
			return nil, err
		}
	}
	return []step{
		{"minimal durable work: ledger row, booking update", filepath.Join(dir, "minimal_event.sql"), "bench/minimal_event.sql"},
		{"+ payment row and paid amount", filepath.Join(dir, "write_steps", "payment.sql"), "bench/write_steps/payment.sql"},
		{"the same in one round trip", filepath.Join(tmp, "payment_pipelined.sql"), "bench/write_steps/payment.sql as one pipeline"},
		{"the product's statements (lock, locked reads, two round trips)", filepath.Join(tmp, "product.sql"), "webhookbench paid-script"},
		{"+ the message job row, in the writes' round trip", filepath.Join(tmp, "product_job.sql"),
			"paid-script + bench/write_steps/job_row.sql before the COMMIT"},
		{"+ the message job row, in a round trip of its own (as River's insert runs)", filepath.Join(tmp, "product_job_trip.sql"),
			"paid-script + bench/write_steps/job_row.sql between the pipelines"},
	}, nil
}

// cmdSteps runs the write steps in turn, in rounds, each on fresh bookings
// after a CHECKPOINT, checks that every transaction confirmed one booking,
// and prints each step's TPS and its share of the minimal work's.
func cmdSteps(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("steps", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("db", "", "database URL of a migrated, otherwise unused database (required)")
	benchDir := fs.String("bench", "bench", "the repository's bench directory")
	c := fs.Int("c", 32, "pgbench clients")
	seconds := fs.Int("seconds", 6, "time of each step in each round")
	rounds := fs.Int("rounds", 3, "rounds of all the steps")
	pgbenchBin := fs.String("pgbench", "pgbench", "pgbench binary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" || *c < 1 || *seconds < 1 || *rounds < 1 {
		return errors.New("steps: -db is required; -c, -seconds and -rounds must be positive")
	}
	tmp, err := os.MkdirTemp("", "webhookbench-steps-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	steps, err := writeSteps(*benchDir, tmp)
	if err != nil {
		return err
	}
	db, err := postgres.Open(ctx, withAppName(*dbURL, "webhookbench"), postgres.PoolOpts{MaxConns: 4})
	if err != nil {
		return err
	}
	defer db.Close()

	tps := make([][]float64, len(steps))
	per := int64(3000**seconds + 10000) // bookings prepared per step and round
	for r := range *rounds {
		for i, s := range steps {
			slug := fmt.Sprintf("steps-r%d-s%d", r+1, i+1)
			base := int64(r*len(steps)+i+1) * 10_000_000
			if err := prepare(ctx, db, slug, pgbPrefix, base, base+per+int64(*c)); err != nil {
				return err
			}
			var res PgbenchResult
			runPgbench(ctx, *pgbenchBin, s.script, s.shown, *dbURL, *c, *seconds, base, &res)
			if res.Error == "" {
				if err := verifyPgbench(ctx, db, slug, res.Transactions); err != nil {
					res.Error = err.Error()
				}
			}
			if res.Error != "" {
				return fmt.Errorf("step %d (%s), round %d: %s", i+1, s.name, r+1, res.Error)
			}
			fmt.Fprintf(stderr, "==> round %d, step %d (%s): %.0f TPS\n", r+1, i+1, s.name, res.TPS)
			tps[i] = append(tps[i], res.TPS)
		}
	}

	mean := func(xs []float64) float64 {
		var sum float64
		for _, x := range xs {
			sum += x
		}
		return sum / float64(len(xs))
	}
	base := mean(tps[0])
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "step\tTPS, each round\tmean TPS\tof the minimal work\t\n")
	for i, s := range steps {
		each := make([]string, len(tps[i]))
		for j, x := range tps[i] {
			each[j] = fmt.Sprintf("%.0f", x)
		}
		m := mean(tps[i])
		fmt.Fprintf(tw, "%d. %s\t%s\t%.0f\t%.0f%%\t\n", i+1, s.name, strings.Join(each, ", "), m, 100*m/base)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pgbench -c %d -j %d -T %d per step and round, %d rounds; scripts:\n", *c, *c, *seconds, *rounds)
	for i, s := range steps {
		fmt.Fprintf(stdout, "  %d. %s\n", i+1, s.shown)
	}
	return nil
}
