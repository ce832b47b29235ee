package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The generated steps are the scripts they claim to be: the pipelined
// payment step sends payment.sql's statements as one pipeline, and the
// job row goes before the product's COMMIT or between its two pipelines.
func TestWriteSteps(t *testing.T) {
	tmp := t.TempDir()
	steps, err := writeSteps(filepath.Join("..", "..", "bench"), tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 6 {
		t.Fatalf("%d steps, want 6", len(steps))
	}
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	payment, pipelined := read(steps[1].script), read(steps[2].script)
	_, after, ok := strings.Cut(payment, "\nBEGIN;")
	if !ok {
		t.Fatalf("payment.sql has no BEGIN:\n%s", payment)
	}
	body := "BEGIN;" + after
	if want := "\\startpipeline\n" + body + "\\endpipeline\n"; !strings.HasSuffix(pipelined, want) {
		t.Errorf("pipelined payment step does not end with payment.sql's statements in one pipeline:\n%s", pipelined)
	}
	job := strings.TrimSpace(read(filepath.Join("..", "..", "bench", "write_steps", "job_row.sql")))
	withJob, ownTrip := read(steps[4].script), read(steps[5].script)
	if !strings.Contains(withJob, job+"\nCOMMIT;\n\\endpipeline") {
		t.Errorf("the job row is not the last statement before the product's COMMIT:\n%s", withJob)
	}
	if !strings.Contains(ownTrip, "\\endpipeline\n"+job+"\n\\startpipeline") {
		t.Errorf("the job row is not between the product's two pipelines:\n%s", ownTrip)
	}
	for _, s := range steps {
		if strings.Count(read(s.script), "\\startpipeline") != strings.Count(read(s.script), "\\endpipeline") {
			t.Errorf("%s: unbalanced pipelines", s.name)
		}
	}
}
