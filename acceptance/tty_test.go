package acceptance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
	"golang.org/x/sys/unix"
)

// openPTY opens a new pseudo-terminal pair: the master side the test
// plays the user's terminal on, and the slave side berth gets as its
// terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

func setSize(t *testing.T, f *os.File, rows, cols uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
}

// screen collects what berth writes to the terminal.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// onTerminal starts berth with the pty's slave side as its terminal and
// collects what it writes there; copied is closed once the master side
// has nothing more to read.
func (e *env) onTerminal(master, slave *os.File, args ...string) (*exec.Cmd, *screen, chan struct{}) {
	e.t.Helper()
	cmd := exec.Command(binary, append([]string{"--root", e.Root, "--state", e.State}, args...)...)
	cmd.Dir = e.Dir
	cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+e.Project)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// berth leads a session whose controlling terminal is the pty, as in
	// a shell: resizes reach it as SIGWINCH.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	slave.Close()
	out := &screen{}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	return cmd, out, copied
}

// A foreground container run from a terminal gets a terminal of its own,
// of the caller's size, that follows the caller's resizes; what the user
// types reaches it; its exit code is berth's.
func TestRunOnTerminalFollowsResize(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  shell:\n    image: bb\n    network_mode: none\n")

	master, slave := openPTY(t)
	defer master.Close()
	setSize(t, master, 40, 120)
	// Each line typed prints the terminal's size and what was typed; end
	// of input ends the shell with code 3.
	script := `while read l; do echo "size=$(stty size) tty=$(tty) got=$l"; done; exit 3`
	cmd, out, copied := e.onTerminal(master, slave, "run", "--rm", "shell", "sh", "-c", script)
	// type sends a line until the screen shows want (the container may
	// not be reading yet, or a resize may not have reached it yet).
	typeUntil := func(line, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("terminal never showed %q; it shows:\n%s", want, out.String())
			}
			master.Write([]byte(line + "\r"))
			time.Sleep(200 * time.Millisecond)
		}
	}
	typeUntil("first", "size=40 120 tty=/dev/pts/0 got=first")
	setSize(t, master, 50, 100)
	typeUntil("second", "size=50 100 tty=/dev/pts/0 got=second")
	// Ctrl-D at the start of a line: end of input for the shell's read.
	master.Write([]byte{4})
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("berth run on a terminal: %v, want exit code 3\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("berth run did not end after end of input:\n%s", out.String())
	}
	master.Close()
	<-copied
	if rows := e.ps(); len(rows) != 0 {
		t.Errorf("run --rm left %+v", rows)
	}
}

// render plays what was written to a terminal onto a screen of lines,
// for the control sequences berth's progress uses: cursor up (CSI n A),
// erase line (CSI 2K) and colors (CSI ... m, dropped).
func render(out string) []string {
	var lines []string
	row, col := 0, 0
	put := func(r rune) {
		for len(lines) <= row {
			lines = append(lines, "")
		}
		l := []rune(lines[row])
		for len(l) < col {
			l = append(l, ' ')
		}
		if col < len(l) {
			l[col] = r
		} else {
			l = append(l, r)
		}
		lines[row] = string(l)
		col++
	}
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] >= '0' && rs[j] <= '9' || rs[j] == ';') {
				j++
			}
			if j == len(rs) {
				return lines
			}
			arg := string(rs[i+2 : j])
			switch rs[j] {
			case 'A':
				n := 1
				fmt.Sscanf(arg, "%d", &n)
				row = max(0, row-n)
			case 'K':
				if row < len(lines) {
					lines[row] = ""
				}
				col = 0
			}
			i = j
		case r == '\r':
			col = 0
		case r == '\n':
			row, col = row+1, 0
			for len(lines) <= row {
				lines = append(lines, "")
			}
		default:
			put(r)
		}
	}
	return lines
}

// On a terminal, up's progress keeps one line per container and network,
// updated in place, ending on each one's final state.
func TestUpProgressOnTerminalUpdatesInPlace(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  a:\n    image: bb\n    command: sleep 1000\n  b:\n    image: bb\n    command: sleep 1000\n    depends_on: [a]\n")
	master, slave := openPTY(t)
	defer master.Close()
	setSize(t, master, 24, 100)
	cmd, out, copied := e.onTerminal(master, slave, "up", "-d")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("up -d on a terminal: %v\n%s", err, out.String())
	}
	// The pty has the rest once the process is gone; reading ends in EIO.
	<-copied
	raw := out.String()
	if !strings.Contains(raw, "\x1b[") {
		t.Fatalf("no control sequences on a terminal:\n%q", raw)
	}
	var screenLines []string
	for _, l := range render(raw) {
		if strings.TrimSpace(l) != "" {
			screenLines = append(screenLines, strings.TrimSpace(l))
		}
	}
	want := map[string]bool{
		"✔ Container " + e.Project + "-a-1": false,
		"✔ Container " + e.Project + "-b-1": false,
	}
	for _, l := range screenLines {
		for w := range want {
			if strings.HasPrefix(l, w) && strings.HasSuffix(l, "Started") {
				if want[w] {
					t.Errorf("%s shown twice:\n%s", w, strings.Join(screenLines, "\n"))
				}
				want[w] = true
			}
		}
		if strings.Contains(l, "Creat") && strings.Contains(l, "Container") {
			t.Errorf("a container's earlier state was left on screen: %q", l)
		}
	}
	t.Logf("screen:\n%s", strings.Join(screenLines, "\n"))
	for w, seen := range want {
		if !seen {
			t.Errorf("no final line %q ... Started on screen:\n%s", w, strings.Join(screenLines, "\n"))
		}
	}
	e.must("down", "-t", "1")
}
