package acceptance

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

func TestNamedVolumeSharedAndKeptUntilDownV(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", `
services:
  writer:
    image: bb
    command: ["sh", "-c", "echo written-by-writer > /data/file; exec sleep 1000"]
    volumes: [data:/data]
  reader:
    image: bb
    command: sleep 1000
    volumes: [data:/shared:ro]
volumes:
  data:
`)
	e.must("up", "-d")
	e.eventually(10e9, "the reader to see the writer's file", func() bool {
		r := e.berth("exec", "-T", "reader", "cat", "/shared/file")
		return r.Code == 0 && r.Stdout == "written-by-writer\n"
	})
	if r := e.berth("exec", "-T", "reader", "touch", "/shared/x"); r.Code == 0 {
		t.Error("a :ro volume was writable")
	}
	// volume rm of a volume in use is refused, naming the problem.
	r := e.berth("volume", "rm", e.Project+"_data")
	if r.Code == 0 || !strings.Contains(r.Stderr, "in use") {
		t.Errorf("volume rm of a used volume: %d %s", r.Code, r.Stderr)
	}
	// Data survives down/up and a recreate.
	e.must("down", "-t", "1")
	e.writeFile("compose.yaml", strings.Replace(mustRead(t, filepath.Join(e.Dir, "compose.yaml")), "echo written-by-writer > /data/file; ", "", 1))
	e.must("up", "-d")
	if out := e.must("exec", "-T", "reader", "cat", "/shared/file"); out != "written-by-writer\n" {
		t.Errorf("after down/up and a recreate: %q", out)
	}
	// The monitor killed: the container and its data stay.
	rows := e.byService(e.ps())
	killMonitor(t, e, rows["writer"].ID)
	if out := e.must("exec", "-T", "writer", "cat", "/data/file"); out != "written-by-writer\n" {
		t.Errorf("after the monitor was killed: %q", out)
	}
	e.must("down", "-t", "1")
	if !strings.Contains(e.must("volume", "ls", "-q"), e.Project+"_data") {
		t.Fatal("down without -v removed the named volume")
	}
	e.must("down", "-v", "-t", "1")
	if strings.Contains(e.must("volume", "ls", "-q"), e.Project+"_data") {
		t.Error("down -v kept the named volume")
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func killMonitor(t *testing.T, e *env, id string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Root, "containers", id, "status.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, `"monitor_pid":`)
	if i < 0 {
		t.Fatalf("no monitor pid in %s", s)
	}
	var pid int
	for _, c := range s[i+len(`"monitor_pid":`):] {
		if c < '0' || c > '9' {
			break
		}
		pid = pid*10 + int(c-'0')
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

func TestVolumesFromDataOnlyContainer(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	// Fig's pattern: a data container whose command exits at once.
	e.writeFile("compose.yaml", `
services:
  data:
    image: bb
    command: ["sh", "-c", "echo seeded > /var/lib/data/seed"]
    volumes: ["/var/lib/data"]
  app:
    image: bb
    command: sleep 1000
    volumes_from: [data]
    depends_on:
      data:
        condition: service_completed_successfully
  viewer:
    image: bb
    command: sleep 1000
    volumes_from: ["data:ro"]
    depends_on:
      data:
        condition: service_completed_successfully
`)
	e.must("up", "-d")
	if out := e.must("exec", "-T", "app", "cat", "/var/lib/data/seed"); out != "seeded\n" {
		t.Errorf("app sees %q", out)
	}
	e.must("exec", "-T", "app", "sh", "-c", "echo from-app > /var/lib/data/app")
	if out := e.must("exec", "-T", "viewer", "cat", "/var/lib/data/app"); out != "from-app\n" {
		t.Errorf("viewer sees %q", out)
	}
	if r := e.berth("exec", "-T", "viewer", "touch", "/var/lib/data/nope"); r.Code == 0 {
		t.Error("volumes_from :ro was writable")
	}
	e.must("down", "-v", "-t", "1")
}

func TestAnonymousVolumeKeptAcrossRecreateRenewedWithV(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  s:\n    image: bb\n    command: sleep 1000\n    volumes: [\"/cache\"]\n")
	e.must("up", "-d")
	e.must("exec", "-T", "s", "sh", "-c", "echo kept > /cache/f")
	e.must("up", "-d", "--force-recreate")
	if out := e.must("exec", "-T", "s", "cat", "/cache/f"); out != "kept\n" {
		t.Errorf("after --force-recreate: %q", out)
	}
	e.must("up", "-d", "--force-recreate", "-V")
	if r := e.berth("exec", "-T", "s", "cat", "/cache/f"); r.Code == 0 {
		t.Errorf("-V kept the old anonymous volume: %q", r.Stdout)
	}
	e.must("down", "-v", "-t", "1")
	if out := strings.TrimSpace(e.must("volume", "ls", "-q")); out != "" {
		t.Errorf("volumes left after down -v: %s", out)
	}
}

func TestCopyUpKeepsOwnerAndMode(t *testing.T) {
	e := newEnv(t)
	// The postgres-with-user case: the image's data directory belongs to
	// the service's user, and a new volume over it must too.
	e.importBusybox("bbdata", busybox.Options{
		Dirs:  map[string]busybox.Dir{"srv/data": {Mode: 0o700, UID: 1000, GID: 1000}},
		Files: map[string][]byte{"srv/data/conf": []byte("from the image\n")},
	})
	e.writeFile("compose.yaml", `
services:
  s:
    image: bbdata
    user: "1000:1000"
    command: sleep 1000
    volumes: [vol:/srv/data]
volumes:
  vol:
`)
	e.must("up", "-d")
	if out := e.must("exec", "-T", "s", "cat", "/srv/data/conf"); out != "from the image\n" {
		t.Errorf("copy-up content: %q", out)
	}
	e.must("exec", "-T", "s", "touch", "/srv/data/written-by-1000")
	st := statInVolume(t, e, e.Project+"_vol", ".")
	if st.Mode&0o7777 != 0o700 || st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("volume root: mode %o owner %d:%d, want 700 1000:1000", st.Mode&0o7777, st.Uid, st.Gid)
	}
	e.must("down", "-v", "-t", "1")
}

func statInVolume(t *testing.T, e *env, vol, name string) syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(e.Root, "volumes", vol, "_data", name), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestReadOnlyBindAndSecrets(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("conf/app.conf", "setting=1\n")
	e.writeFile("token.txt", "s3cr3t\n")
	os.Chown(filepath.Join(e.Dir, "conf/app.conf"), 1234, 1234)
	e.writeFile("compose.yaml", `
services:
  s:
    image: bb
    command: sleep 1000
    volumes: ["./conf:/conf:ro"]
    secrets:
      - token
      - source: token
        target: other
        uid: "1000"
        mode: 0400
secrets:
  token:
    file: ./token.txt
`)
	e.must("up", "-d")
	if out := e.must("exec", "-T", "s", "cat", "/conf/app.conf"); out != "setting=1\n" {
		t.Errorf("bind: %q", out)
	}
	if r := e.berth("exec", "-T", "s", "sh", "-c", "echo x > /conf/new"); r.Code == 0 {
		t.Error("read-only bind was writable")
	}
	if out := e.must("exec", "-T", "s", "cat", "/run/secrets/token"); out != "s3cr3t\n" {
		t.Errorf("secret: %q", out)
	}
	if r := e.berth("exec", "-T", "s", "sh", "-c", "echo x > /run/secrets/token"); r.Code == 0 {
		t.Error("secret was writable")
	}
	if out := e.must("exec", "-T", "s", "stat", "-c", "%u %a", "/run/secrets/other"); out != "1000 400\n" {
		t.Errorf("secret uid/mode: %q", out)
	}
	e.must("down", "-t", "1")
	var st syscall.Stat_t
	syscall.Stat(filepath.Join(e.Dir, "conf/app.conf"), &st)
	syscall.Stat(filepath.Join(e.Dir, "token.txt"), &st)
	var conf syscall.Stat_t
	syscall.Stat(filepath.Join(e.Dir, "conf/app.conf"), &conf)
	if conf.Uid != 1234 || st.Uid != 0 {
		t.Errorf("bind mounts changed host ownership: conf uid %d, token uid %d", conf.Uid, st.Uid)
	}
}

func TestCpBothWaysThroughVolumes(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  s:\n    image: bb\n    command: sleep 1000\n    volumes:\n      - store:/data\nvolumes:\n  store:\n")
	e.writeFile("in/hello.txt", "from the host\n")
	e.must("up", "-d")
	e.must("cp", filepath.Join(e.Dir, "in"), "s:/data")
	if out := e.must("exec", "-T", "s", "cat", "/data/in/hello.txt"); out != "from the host\n" {
		t.Errorf("copied in: %q", out)
	}
	e.must("exec", "-T", "s", "sh", "-c", "echo from the container > /data/out.txt")
	dst := filepath.Join(t.TempDir(), "got.txt")
	e.must("cp", "s:/data/out.txt", dst)
	if b, _ := os.ReadFile(dst); string(b) != "from the container\n" {
		t.Errorf("copied out: %q", b)
	}
	e.must("down", "-v", "-t", "1")
}
