package runtime

import (
	"bytes"
	"context"
	"path/filepath"
	"time"

	"github.com/berthdev/berth/internal/statefile"
)

// Health check defaults, as Docker's.
const (
	defaultProbeInterval = 30 * time.Second
	defaultProbeTimeout  = 30 * time.Second
	defaultProbeRetries  = 3
	probeOutputMax       = 4096
	probeLogMax          = 5
)

// probeLoop runs the container's health check until ctx ends, recording
// each result in rec and the status file. During the start period failures
// do not count, and probes run every StartInterval (when set).
func (r *Runtime) probeLoop(ctx context.Context, id string, s *Spec, rec *record) {
	hc := s.Healthcheck
	if hc == nil || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return
	}
	var args []string
	switch hc.Test[0] {
	case "CMD":
		args = hc.Test[1:]
	case "CMD-SHELL":
		args = append([]string{"/bin/sh", "-c"}, hc.Test[1:]...)
	default:
		args = append([]string{"/bin/sh", "-c"}, hc.Test...)
	}
	if len(args) == 0 {
		return
	}
	interval, timeout, retries := hc.Interval, hc.Timeout, hc.Retries
	if interval <= 0 {
		interval = defaultProbeInterval
	}
	if timeout <= 0 {
		timeout = defaultProbeTimeout
	}
	if retries <= 0 {
		retries = defaultProbeRetries
	}
	startInterval := hc.StartInterval
	if startInterval <= 0 {
		startInterval = 5 * time.Second
		if interval < startInterval {
			startInterval = interval
		}
	}
	begin := time.Now()
	for {
		inStart := time.Since(begin) < hc.StartPeriod
		wait := interval
		if inStart || rec.Health == HealthStarting {
			// Probe quickly until the first verdict, so dependants
			// waiting for "healthy" are not held a whole interval.
			wait = min(startInterval, interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		p := r.probe(ctx, id, s, args, timeout)
		if ctx.Err() != nil {
			return
		}
		was := rec.Health
		rec.HealthLog = append(rec.HealthLog, p)
		if len(rec.HealthLog) > probeLogMax {
			rec.HealthLog = rec.HealthLog[len(rec.HealthLog)-probeLogMax:]
		}
		if p.ExitCode == 0 {
			rec.Health, rec.FailingCount = HealthHealthy, 0
		} else if !inStart || rec.Health == HealthHealthy {
			rec.FailingCount++
			if rec.FailingCount >= retries {
				rec.Health = HealthUnhealthy
			}
		}
		statefile.WriteJSON(filepath.Join(r.dir(id), "status.json"), rec, statefile.Options{})
		if rec.Health != was {
			r.event("health_status: "+rec.Health, id, s)
		}
	}
}

// probe runs one health check command in the container.
func (r *Runtime) probe(ctx context.Context, id string, s *Spec, args []string, timeout time.Duration) Probe {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out bytes.Buffer
	lw := &limitedWriter{w: &out, n: probeOutputMax}
	start := time.Now()
	code, err := r.Exec(pctx, id, ExecSpec{Args: args, User: s.User, Cwd: s.Cwd, Env: s.Env}, Stdio{Out: lw, Err: lw})
	p := Probe{Start: start, End: time.Now(), ExitCode: code, Output: out.String()}
	if err != nil {
		p.ExitCode = -1
		p.Output = err.Error()
	}
	if pctx.Err() == context.DeadlineExceeded {
		p.ExitCode = -1
		p.Output = "health check exceeded its timeout of " + timeout.String()
	}
	return p
}

type limitedWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n <= 0 {
		return len(b), nil
	}
	k := min(len(b), l.n)
	l.w.Write(b[:k])
	l.n -= k
	return len(b), nil
}
