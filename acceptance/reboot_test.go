package acceptance

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/busybox"
)

// simulateReboot does to the test's berth what a host reboot does, as the
// reliability review did it: every monitor and container process of the
// root is killed, the network namespace and root file system mounts go,
// the project's bridges, nftables chains and cgroups are deleted, and the
// state directory (a tmpfs under /run on a real host) is emptied. What is
// under the root stays, as on disk.
func (e *env) simulateReboot() {
	t := e.t
	t.Helper()
	var ids []string
	ents, _ := os.ReadDir(filepath.Join(e.Root, "containers"))
	for _, ent := range ents {
		if regexp.MustCompile(`^[a-f0-9]{64}$`).MatchString(ent.Name()) {
			ids = append(ids, ent.Name())
		}
	}
	// Monitors first, so that none starts its container again.
	monitors := func() []int {
		var pids []int
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), e.Root) || strings.Contains(string(b), e.State) {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				pids = append(pids, pid)
			}
		}
		return pids
	}
	inContainers := func() []int {
		var pids []int
		for _, id := range ids {
			files, _ := filepath.Glob("/sys/fs/cgroup/*/berth/" + id + "/cgroup.procs")
			more, _ := filepath.Glob("/sys/fs/cgroup/berth/" + id + "/cgroup.procs")
			for _, f := range append(files, more...) {
				b, _ := os.ReadFile(f)
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
						pids = append(pids, pid)
					}
				}
			}
		}
		return pids
	}
	for _, list := range []func() []int{monitors, inContainers} {
		e.eventually(20*time.Second, "the processes of the root to die", func() bool {
			pids := list()
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			return len(pids) == 0
		})
	}
	// Mounts of the root and the state (overlays, namespaces), deepest first.
	var points []string
	info, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(info), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (strings.HasPrefix(f[4], e.Root+"/") || strings.HasPrefix(f[4], e.State+"/")) {
			points = append(points, f[4])
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
			t.Fatalf("unmounting %s: %v", p, err)
		}
	}
	// The namespaces are gone, and their veths with them.
	e.eventually(20*time.Second, "the veths of the containers to go", func() bool {
		out, _ := exec.Command("ip", "-o", "link", "show").Output()
		for _, id := range ids {
			if strings.Contains(string(out), "vb"+id[:10]) {
				return false
			}
		}
		return true
	})
	var alloc struct {
		Networks map[string]struct {
			Bridge string `json:"bridge"`
		} `json:"networks"`
	}
	if b, err := os.ReadFile(filepath.Join(e.Root, "projects", e.Project, "network.json")); err == nil {
		if err := json.Unmarshal(b, &alloc); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range alloc.Networks {
		if out, err := exec.Command("ip", "link", "del", n.Bridge).CombinedOutput(); err != nil {
			t.Fatalf("deleting bridge %s: %v %s", n.Bridge, err, out)
		}
	}
	e.deleteProjectChains()
	for _, id := range ids {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/berth/" + id)
		more, _ := filepath.Glob("/sys/fs/cgroup/berth/" + id)
		for _, d := range append(dirs, more...) {
			if err := syscall.Rmdir(d); err != nil && !os.IsNotExist(err) {
				t.Fatalf("removing cgroup %s: %v", d, err)
			}
		}
	}
	if err := os.RemoveAll(e.State); err != nil {
		t.Fatal(err)
	}
}

// deleteProjectChains deletes the project's nftables chains and the jumps
// to them, leaving other projects' (of other roots too) as they are.
func (e *env) deleteProjectChains() {
	t := e.t
	t.Helper()
	suffix := regexp.MustCompile(`^p-[0-9a-f]+-` + regexp.QuoteMeta(e.Project) + `-(dnat|snat|fwd)$`)
	out, err := exec.Command("nft", "-a", "list", "table", "ip", "berth").Output()
	if err != nil {
		return // no table: nothing of the project's
	}
	var chains []string
	chain := ""
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "chain" {
			chain = f[1]
			if suffix.MatchString(chain) {
				chains = append(chains, chain)
			}
			continue
		}
		if i := slices.Index(f, "jump"); i >= 0 && i+1 < len(f) && suffix.MatchString(f[i+1]) {
			handle := f[len(f)-1]
			if b, err := exec.Command("nft", "delete", "rule", "ip", "berth", chain, "handle", handle).CombinedOutput(); err != nil {
				t.Fatalf("deleting the jump to %s: %v %s", f[i+1], err, b)
			}
		}
	}
	for _, c := range chains {
		for _, verb := range []string{"flush", "delete"} {
			if b, err := exec.Command("nft", verb, "chain", "ip", "berth", c).CombinedOutput(); err != nil {
				t.Fatalf("nft %s chain %s: %v %s", verb, c, err, b)
			}
		}
	}
}

// freePort asks the kernel for a TCP port nobody uses.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The reliability review's finding 5: after a reboot every container
// failed with "namespace path: lstat $BERTH_STATE/netns/<id>: no such file
// or directory (is the command in the image, and on its PATH?)" until
// recreated.
func TestStackStartsAgainAfterReboot(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	port := freePort(t)
	e.writeFile("compose.yaml", fmt.Sprintf(`
services:
  db:
    image: bb
    command: ["httpd", "-f", "-p", "5432", "-h", "/data"]
    volumes: [data:/data]
  web:
    image: bb
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: ["127.0.0.1:%d:8080"]
    volumes: ["./www:/www:ro"]
    depends_on: [db]
  worker:
    image: bb
    command: ["sh", "-c", "echo worker started; exec sleep 1000"]
    volumes: ["/cache"]
    depends_on: [db]
volumes:
  data:
`, port))
	e.writeFile("www/index.html", "hello from web\n")
	e.must("up", "-d")
	e.must("exec", "-T", "db", "sh", "-c", "echo kept in the volume > /data/file")
	e.must("exec", "-T", "worker", "sh", "-c", "echo kept in the anonymous volume > /cache/file")

	// everythingWorks checks what the stack does: every container runs,
	// the published port answers, names resolve between containers, and
	// both volumes kept their data.
	everythingWorks := func(when string) {
		t.Helper()
		for _, r := range e.ps() {
			if r.State != "running" {
				t.Fatalf("%s: %s is %q", when, r.Service, r.State)
			}
		}
		if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/index.html", port)); body != "hello from web\n" {
			t.Errorf("%s: through the published port: %q", when, body)
		}
		if out := e.must("exec", "-T", "web", "wget", "-q", "-O", "-", "http://db:5432/file"); out != "kept in the volume\n" {
			t.Errorf("%s: web asking db by name for the named volume's file: %q", when, out)
		}
		if out := e.must("exec", "-T", "worker", "cat", "/cache/file"); out != "kept in the anonymous volume\n" {
			t.Errorf("%s: anonymous volume: %q", when, out)
		}
	}
	everythingWorks("before the reboot")
	ids := map[string]string{}
	for _, r := range e.ps() {
		ids[r.Service] = r.ID
	}

	e.simulateReboot()
	for _, r := range e.ps() {
		if r.State == "running" {
			t.Fatalf("after the reboot, %s still runs", r.Service)
		}
	}
	e.must("up", "-d")
	everythingWorks("up -d after a reboot")
	for _, r := range e.ps() {
		if ids[r.Service] != r.ID {
			t.Errorf("%s was recreated, not started again", r.Service)
		}
	}

	// A second reboot, and the services brought back by restart: web
	// alone first (its network rebuilt without up), then all.
	e.simulateReboot()
	e.must("restart", "web")
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/index.html", port)); body != "hello from web\n" {
		t.Errorf("restart web after a reboot: through the published port: %q", body)
	}
	e.must("restart")
	everythingWorks("restart after a second reboot")

	e.must("down", "-v", "-t", "1")
	if strings.Contains(e.must("volume", "ls", "-q"), e.Project+"_data") {
		t.Error("down -v kept the named volume")
	}
}

type psStatusRow struct {
	Service  string `json:"Service"`
	State    string `json:"State"`
	Status   string `json:"Status"`
	ExitCode int    `json:"ExitCode"`
}

func (e *env) psStatus(service string) psStatusRow {
	e.t.Helper()
	var rows []psStatusRow
	out := e.must("ps", "-a", "--format", "json", service)
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		e.t.Fatalf("ps %s: %v\n%s", service, err, out)
	}
	return rows[0]
}

// lastTick is the highest "tick N" a service has logged (0: none).
func (e *env) lastTick(service string) int {
	e.t.Helper()
	n := 0
	for _, m := range regexp.MustCompile(`tick (\d+)`).FindAllStringSubmatch(e.must("logs", "--no-color", service), -1) {
		if v, _ := strconv.Atoi(m[1]); v > n {
			n = v
		}
	}
	return n
}

// The reliability review's finding 10: a killed monitor cut its container
// off from its log and its name server for good, and `up -d` said
// "Running".
func TestUpReplacesKilledMonitor(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", `
services:
  db:
    image: bb
    command: sleep 1000
  app:
    image: bb
    command: ["sh", "-c", "trap 'exit 7' TERM; i=0; while :; do i=$$((i+1)); echo tick $$i; sleep 0.1; done"]
    depends_on: [db]
  term:
    image: bb
    tty: true
    command: ["sh", "-c", "trap 'exit 9' TERM; while :; do sleep 0.1; done"]
`)
	e.must("up", "-d")
	e.eventually(10*time.Second, "app's first ticks", func() bool { return e.lastTick("app") >= 3 })
	m := regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+)/`).FindStringSubmatch(e.must("exec", "-T", "db", "ip", "-4", "-o", "addr", "show", "eth0"))
	if m == nil {
		t.Fatal("db has no address on eth0")
	}
	dbAddr := m[1]
	if r := e.berth("exec", "-T", "app", "nslookup", "db", "127.0.0.11"); r.Code != 0 || !strings.Contains(r.Stdout, dbAddr) {
		t.Fatalf("the name server before the kill: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}

	for _, s := range []string{"app", "term"} {
		killMonitor(t, e, e.byService(e.ps())[s].ID)
	}
	e.eventually(10*time.Second, "ps to say the monitors are lost", func() bool {
		return strings.Contains(e.psStatus("app").Status, "monitor lost") && strings.Contains(e.psStatus("term").Status, "monitor lost")
	})
	if r := e.berth("exec", "-T", "app", "nslookup", "db", "127.0.0.11"); r.Code == 0 {
		t.Fatalf("the name server answered with its monitor dead:\n%s", r.Stdout)
	}
	before := e.lastTick("app")

	r := e.berth("up", "-d")
	if r.Code != 0 {
		t.Fatalf("up -d: %d\n%s", r.Code, r.Stderr)
	}
	// What cannot be taken over is said, with what to run.
	if !strings.Contains(r.Stderr, "without its output") || !strings.Contains(r.Stderr, "berth restart term") {
		t.Errorf("up -d did not say that term's output is lost and what brings it back:\n%s", r.Stderr)
	}
	for _, s := range []string{"app", "term"} {
		if row := e.psStatus(s); row.State != "running" || strings.Contains(row.Status, "monitor lost") {
			t.Errorf("after up -d, %s is %+v", s, row)
		}
	}
	e.eventually(10*time.Second, "app's log to resume", func() bool { return e.lastTick("app") > before+2 })
	if r := e.berth("exec", "-T", "app", "nslookup", "db", "127.0.0.11"); r.Code != 0 || !strings.Contains(r.Stdout, dbAddr) {
		t.Errorf("the name server after up -d: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	// The exit codes reach the new monitors, though the inits are not
	// their children.
	e.must("stop", "app", "term")
	for s, code := range map[string]int{"app": 7, "term": 9} {
		if row := e.psStatus(s); row.State != "exited" || row.ExitCode != code {
			t.Errorf("after stop, %s is %+v, want exited with %d", s, row, code)
		}
	}
}
