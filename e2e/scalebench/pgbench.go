package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	rePgbenchTx     = regexp.MustCompile(`number of transactions actually processed: (\d+)`)
	rePgbenchFailed = regexp.MustCompile(`number of failed transactions: (\d+)`)
)

// runPgbench runs script with c clients for the given seconds (round r is
// passed as -D round=r) and adds its transactions to smp. A run refused
// for want of connections (the server is shared) is tried again.
func runPgbench(ctx context.Context, bin, script, dbURL string, c, seconds, r int, defines []string, smp *sample) {
	dir, err := os.MkdirTemp("", "scalebench-pgbench-")
	if err != nil {
		smp.fail(err.Error())
		return
	}
	defer os.RemoveAll(dir)
	cs := strconv.Itoa(c)
	args := []string{"-n", "-M", "prepared", "-c", cs, "-j", cs, "-T", strconv.Itoa(seconds), "-f", script,
		"-D", "round=" + strconv.Itoa(r)}
	for _, d := range defines {
		args = append(args, "-D", d)
	}
	args = append(args, "-l", "--log-prefix="+filepath.Join(dir, "pgb"))
	shown := slices.Clone(args)
	shown[len(shown)-1] = "--log-prefix=<tmp>/pgb"
	dbName := "<db>"
	if u, err := url.Parse(dbURL); err == nil {
		dbName = strings.TrimPrefix(u.Path, "/")
	}
	smp.command = "pgbench " + strings.Join(shown, " ") + " " + dbName
	var text string
	for attempt := 0; ; attempt++ {
		out, err := exec.CommandContext(ctx, bin, append(args, withAppName(dbURL, "pgbench"))...).CombinedOutput()
		text = string(out)
		if strings.Contains(text, "too many clients") && attempt < 20 && ctx.Err() == nil {
			time.Sleep(3 * time.Second)
			continue
		}
		count, failed := 0, 0
		if mm := rePgbenchTx.FindStringSubmatch(text); mm != nil {
			count, _ = strconv.Atoi(mm[1])
		}
		if mm := rePgbenchFailed.FindStringSubmatch(text); mm != nil {
			failed, _ = strconv.Atoi(mm[1])
		}
		if err != nil || count == 0 || failed > 0 || strings.Contains(text, "aborted") {
			smp.fail(fmt.Sprintf("pgbench failed (%v): %s", err, lastLines(text, 6)))
			return
		}
		break
	}
	lat, err := pgbenchLatencies(dir)
	if err != nil {
		smp.fail(err.Error())
		return
	}
	for _, us := range lat {
		smp.lat = append(smp.lat, time.Duration(us)*time.Microsecond)
	}
	smp.seconds += float64(seconds)
}
