package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/project"
)

// upEvents is what an up of a web service and its database reports, in
// the order the verb reports it.
var upEvents = [][2]string{
	{"Network p_default", "Creating"},
	{"Network p_default", "Created"},
	{"Container p-db-1", "Creating"},
	{"Container p-db-1", "Created"},
	{"Container p-db-1", "Starting"},
	{"Container p-db-1", "Started"},
	{"Container p-web-1", "Creating"},
	{"Container p-web-1", "Error: port 8080 is in use"},
	{"Container p-db-1", "Healthy"},
}

func TestPrinters(t *testing.T) {
	for _, tc := range []struct{ name, mode, ansi string }{
		{"progress-plain", "plain", "never"},
		{"progress-tty", "tty", "never"},
		{"progress-tty-color", "tty", "always"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			p, err := newProgress(&b, tc.mode, tc.ansi)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range upEvents {
				p.Event(ev[0], ev[1])
			}
			golden(t, tc.name, b.Bytes())
		})
	}

	at := time.Date(2026, 3, 14, 15, 9, 26, 535000000, time.UTC)
	lines := []struct{ name, text string }{
		{"db-1", "ready to accept connections"},
		{"web-1", "listening on :8080"},
		{"db-1", "connection from 10.0.0.3"},
		{"tests-run-0a1b2c", "ok"},
		{"web-1", ""},
	}
	for _, tc := range []struct {
		name                     string
		color, noPrefix, stamped bool
	}{
		{"logs", false, false, false},
		{"logs-color", true, false, false},
		{"logs-no-prefix", false, true, false},
		{"logs-timestamps", false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			lp := newLogPrinter(&b, tc.color, tc.noPrefix, tc.stamped)
			for _, s := range []string{"db", "web"} {
				lp.Width(len(s) + 2)
			}
			for i, l := range lines {
				lp.LogLine(l.name, project.LogLine{Time: at.Add(time.Duration(i) * time.Millisecond), Text: l.text})
			}
			golden(t, tc.name, b.Bytes())
		})
	}

	now := time.Date(2026, 3, 14, 16, 0, 0, 0, time.UTC)
	rows := []project.Summary{
		{
			ID: "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b", Name: "p-db-1", Service: "db",
			Image: "postgres:16", Command: `"docker-entrypoint.sh postgres"`, Project: "p", State: "running",
			Status: "Up (healthy)", Health: "healthy", Created: now.Add(-3 * time.Hour).Unix(), Number: 1,
		},
		{
			ID: "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b", Name: "p-web-1", Service: "web",
			Image: "p-web", Command: `"/app/server"`, Project: "p", State: "running", Status: "Up",
			Created: now.Add(-90 * time.Second).Unix(), Number: 1,
			Publishers: []project.Port{{URL: "127.0.0.1", TargetPort: 8080, PublishedPort: 39719, Protocol: "tcp"}},
			Ports:      "127.0.0.1:39719->8080/tcp",
		},
		{
			ID: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0", Name: "p-migrate-1", Service: "migrate",
			Image: "p-web", Command: `"/app/migrate"`, Project: "p", State: "exited", Status: "Exited (3)", ExitCode: 3,
			Created: now.Add(-72 * time.Hour).Unix(), Number: 1,
		},
	}
	for _, tc := range []struct {
		name, format string
		rows         []project.Summary
	}{
		{"ps-table", "table", rows},
		{"ps-json", "json", rows},
		{"ps-json-empty", "json", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := printPs(&b, tc.rows, tc.format, false, now); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
	t.Run("ps-quiet", func(t *testing.T) {
		var b bytes.Buffer
		if err := printPs(&b, rows, "table", true, now); err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(b.String()); len(got) != 3 || got[0] != rows[0].ID {
			t.Errorf("ps -q printed %q, want the three IDs", b.String())
		}
	})
}

// TestProgressPlainLinesAreWhole: the plain mode writes whole lines only,
// so that output of concurrent verbs never interleaves mid-line.
func TestProgressPlainLinesAreWhole(t *testing.T) {
	var b bytes.Buffer
	p, err := newProgress(&b, "plain", "never")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				p.Event("Container p-web-"+string(rune('1'+i)), "Started")
			}
		}()
	}
	for range 8 {
		<-done
	}
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if !strings.HasPrefix(l, "Container p-web-") || !strings.HasSuffix(l, " Started") {
			t.Fatalf("torn line %q", l)
		}
	}
}

func TestProgressModes(t *testing.T) {
	var b bytes.Buffer
	for _, mode := range []string{"", "auto", "tty", "plain", "json", "quiet"} {
		if _, err := newProgress(&b, mode, "auto"); err != nil {
			t.Errorf("--progress %q: %v", mode, err)
		}
	}
	p, _ := newProgress(&b, "auto", "auto")
	if p.mode != "plain" {
		t.Errorf("auto on a buffer is %q, want plain", p.mode)
	}
	if _, err := newProgress(&b, "fancy", "auto"); exitCode(&b, err) != exitUsage {
		t.Errorf("--progress fancy: %v, want a usage error", err)
	}
	if _, err := newProgress(&b, "plain", "sometimes"); exitCode(&b, err) != exitUsage {
		t.Errorf("--ansi sometimes: %v, want a usage error", err)
	}
	b.Reset()
	q, _ := newProgress(&b, "quiet", "never")
	q.Event("Container p-web-1", "Started")
	if b.Len() != 0 {
		t.Errorf("quiet printed %q", b.String())
	}
}
