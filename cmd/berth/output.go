package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/berthdev/berth/project"
	"github.com/berthdev/berth/runtime/image"
	"golang.org/x/term"
)

// progress prints what a verb does to each resource, in one of the modes
// of --progress: tty (one line per resource, updated in place), plain (a
// line per change), json (an object per change) or quiet.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	mode  string
	color bool
	order []string
	state map[string]string
	drawn int
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress picks the mode: auto means tty on a terminal, plain otherwise.
func newProgress(w io.Writer, mode, ansi string) (*progress, error) {
	tty := isTerminal(w)
	switch mode {
	case "", "auto":
		mode = "plain"
		if tty && ansi != "never" {
			mode = "tty"
		}
	case "tty", "plain", "json", "quiet":
	default:
		return nil, usageError{fmt.Sprintf("--progress: %q is not one of auto, tty, plain, json, quiet", mode)}
	}
	color, err := useColor(w, ansi)
	if err != nil {
		return nil, err
	}
	return &progress{w: w, mode: mode, color: color, state: map[string]string{}}, nil
}

func useColor(w io.Writer, ansi string) (bool, error) {
	switch ansi {
	case "", "auto":
		return isTerminal(w) && os.Getenv("NO_COLOR") == "", nil
	case "always":
		return true, nil
	case "never":
		return false, nil
	}
	return false, usageError{fmt.Sprintf("--ansi: %q is not one of never, always, auto", ansi)}
}

// Event records that resource (e.g. "Container p-web-1") reached status
// ("Created", "Started", "Healthy", "Error: ..."). Safe for concurrent use.
func (p *progress) Event(resource, status string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case "quiet":
		return
	case "json":
		b, _ := json.Marshal(map[string]string{"resource": resource, "status": status, "time": time.Now().UTC().Format(time.RFC3339Nano)})
		fmt.Fprintf(p.w, "%s\n", b)
		return
	case "plain":
		fmt.Fprintf(p.w, "%s %s\n", resource, status)
		return
	}
	if _, ok := p.state[resource]; !ok {
		p.order = append(p.order, resource)
	}
	p.state[resource] = status
	p.redraw()
}

func (p *progress) redraw() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA", p.drawn)
	}
	width := 0
	for _, r := range p.order {
		width = max(width, len(r))
	}
	for _, r := range p.order {
		st := p.state[r]
		mark, col := " ⠿", "\x1b[34m"
		switch {
		case strings.HasPrefix(st, "Error"):
			mark, col = " ✘", "\x1b[31m"
		case strings.HasSuffix(st, "ed") || st == "Healthy" || st == "Running":
			mark, col = " ✔", "\x1b[32m"
		}
		if !p.color {
			col = ""
		}
		reset := ""
		if col != "" {
			reset = "\x1b[0m"
		}
		fmt.Fprintf(p.w, "\x1b[2K%s%s%s %-*s  %s\n", col, mark, reset, width, r, st)
	}
	p.drawn = len(p.order)
}

// logPrinter prefixes container output with the container's name in a
// color of its own, whole lines at a time so lines never interleave.
type logPrinter struct {
	mu       sync.Mutex
	w        io.Writer
	color    bool
	noPrefix bool
	width    int
	colors   map[string]string
	stamps   bool
}

var logColors = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

func newLogPrinter(w io.Writer, color, noPrefix, timestamps bool) *logPrinter {
	return &logPrinter{w: w, color: color, noPrefix: noPrefix, colors: map[string]string{}, stamps: timestamps}
}

// Width aligns prefixes for names up to n characters.
func (l *logPrinter) Width(n int) {
	l.mu.Lock()
	l.width = max(l.width, n)
	l.mu.Unlock()
}

// LogLine prints one line of a container's output.
func (l *logPrinter) LogLine(name string, line project.LogLine) { l.Line(name, line.Time, line.Text) }

// Line prints one line of name's output.
func (l *logPrinter) Line(name string, t time.Time, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	if !l.noPrefix {
		c, ok := l.colors[name]
		if !ok {
			c = logColors[len(l.colors)%len(logColors)]
			l.colors[name] = c
		}
		if l.color {
			fmt.Fprintf(&b, "\x1b[%sm%-*s |\x1b[0m ", c, l.width, name)
		} else {
			fmt.Fprintf(&b, "%-*s | ", l.width, name)
		}
	}
	if l.stamps {
		b.WriteString(t.UTC().Format(time.RFC3339Nano))
		b.WriteByte(' ')
	}
	b.WriteString(text)
	b.WriteByte('\n')
	io.WriteString(l.w, b.String())
}

// pullProgress renders layer downloads: a line per layer, updated in place
// on a terminal, one line per finished layer otherwise.
//
// It follows --progress as the other progress output does: tty, plain,
// json or quiet (nil: none), auto choosing tty on a terminal.
func pullProgress(w io.Writer, g *globalOptions) (func(image.Progress), error) {
	p, err := newProgress(w, g.Progress, g.Ansi)
	if err != nil || p.mode == "quiet" {
		return nil, err
	}
	var mu sync.Mutex
	tty := p.mode == "tty"
	last := map[string]int64{}
	return func(pr image.Progress) {
		mu.Lock()
		defer mu.Unlock()
		id := "Layer " + shortImageID(strings.TrimPrefix(pr.Layer, "sha256:"))
		switch {
		case pr.Cached:
			p.Event(id, "Already exists")
		case pr.Done:
			p.Event(id, "Pull complete")
		case tty && pr.Complete-last[pr.Layer] > 256<<10:
			last[pr.Layer] = pr.Complete
			p.Event(id, fmt.Sprintf("Downloading %s/%s", humanSize(pr.Complete), humanSize(pr.Total)))
		}
	}, nil
}
