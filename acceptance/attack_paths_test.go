package acceptance

// Attack tests for paths that come from images, volumes, containers and
// build contexts: each such path must resolve inside its own root, with
// symlinks followed as if that root were / (as Docker does), and never on
// the host. The hostile images point symlinks at directories the test made
// on the host ("bait"), or at the host's /, and each test checks that
// nothing of the host was read into the store or a container, and nothing
// was written on the host outside the store.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

// bait is a host directory that a hostile image points a symlink at. It
// holds data/canary, a file with random content.
type bait struct {
	t      *testing.T
	Dir    string
	Canary string // the content of data/canary
	before map[string]string
}

func newBait(t *testing.T) *bait {
	t.Helper()
	b := make([]byte, 16)
	rand.Read(b)
	bt := &bait{t: t, Dir: t.TempDir(), Canary: "host-canary-" + hex.EncodeToString(b) + "\n"}
	if err := os.MkdirAll(filepath.Join(bt.Dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bt.Dir, "data", "canary"), []byte(bt.Canary), 0o644); err != nil {
		t.Fatal(err)
	}
	bt.before = treeState(t, bt.Dir)
	return bt
}

// untouched fails the test if anything under the bait directory was
// created, removed or changed.
func (bt *bait) untouched() {
	bt.t.Helper()
	after := treeState(bt.t, bt.Dir)
	for p, s := range after {
		if bt.before[p] != s {
			bt.t.Errorf("host directory %s was written: %s is now %s (was %q)", bt.Dir, p, s, bt.before[p])
		}
	}
	for p := range bt.before {
		if _, ok := after[p]; !ok {
			bt.t.Errorf("host directory %s was written: %s was removed", bt.Dir, p)
		}
	}
}

// treeState maps each path under dir to its type, mode, owner and content
// digest, without following symlinks.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		s := fmt.Sprintf("%v", fi.Mode())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[p] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// filesWith lists the regular files under dir (symlinks not followed)
// whose content is want. It never prints the content.
func filesWith(t *testing.T, dir string, want []byte) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Equal(b, want) {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// hostShadow is the host's /etc/shadow, the file an escape would leak.
func hostShadow(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("/etc/shadow")
	if err != nil || len(b) == 0 {
		t.Skip("the host has no /etc/shadow to compare with")
	}
	return b
}

// buildHostile builds Dockerfile text as image "hostile" (service app).
func (e *env) buildHostile(dockerfile string, files map[string]string) {
	e.t.Helper()
	e.writeFile("app/Dockerfile", dockerfile)
	for name, content := range files {
		e.writeFile(filepath.Join("app", name), content)
	}
	e.must("build")
}

func TestAttackImageVolumeThroughSymlinkToHostRoot(t *testing.T) {
	e := newEnv(t)
	shadow := hostShadow(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  app:\n    build: ./app\n    image: hostile\n")
	e.buildHostile("FROM bb\nRUN ln -s / /x\nVOLUME /x/etc\nCMD [\"sleep\", \"1000\"]\n", nil)
	e.must("up", "-d")
	if found := filesWith(t, filepath.Join(e.Root, "volumes"), shadow); len(found) > 0 {
		t.Errorf("the host's /etc/shadow was copied into a volume: %v", found)
	}
	if r := e.berth("exec", "-T", "app", "cat", "/etc/shadow"); bytes.Equal([]byte(r.Stdout), shadow) {
		t.Error("the container reads the host's /etc/shadow")
	}
	// As Docker: /x/etc is the image's /etc, and the volume holds its copy.
	if out := e.must("exec", "-T", "app", "cat", "/etc/passwd"); !strings.Contains(out, "app:x:1000:1000") {
		t.Errorf("/etc/passwd in the container is not the image's: %q", out)
	}
	vols, _ := filepath.Glob(filepath.Join(e.Root, "volumes", "*", "_data"))
	if len(vols) != 1 {
		t.Fatalf("want one anonymous volume, have %v", vols)
	}
	// Beside the image's files, the volume may hold only the empty mount
	// points of the files berth mounts over /etc (Docker makes them too).
	ents, _ := os.ReadDir(vols[0])
	var names, foreign []string
	for _, ent := range ents {
		fi, err := ent.Info()
		if err != nil {
			t.Fatal(err)
		}
		switch ent.Name() {
		case "group", "passwd":
			names = append(names, ent.Name())
		case "hosts", "hostname", "resolv.conf":
			if fi.Size() != 0 {
				t.Errorf("the volume's %s is not an empty mount point", ent.Name())
			}
		default:
			foreign = append(foreign, ent.Name())
		}
	}
	if len(foreign) > 0 {
		t.Errorf("the volume holds %d entries the image's /etc has not, first %q", len(foreign), foreign[0])
	}
	if !slices.Equal(names, []string{"group", "passwd"}) {
		t.Errorf("the volume holds %v of the image's /etc: [group passwd]", names)
	}
	e.must("down", "-v", "-t", "1")
}

func TestAttackNamedVolumeTargetThroughImageSymlink(t *testing.T) {
	e := newEnv(t)
	bt := newBait(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("conf/bound.txt", "bound\n")
	e.writeFile("compose.yaml", "services:\n  app:\n    build: ./app\n    image: hostile\n    volumes: [store:/x/data, ./conf:/x/bind]\n    tmpfs: [/x/tmp]\nvolumes:\n  store:\n")
	e.buildHostile(fmt.Sprintf("FROM bb\nRUN ln -s %s /x\nCMD [\"sleep\", \"1000\"]\n", bt.Dir), nil)
	e.must("up", "-d")
	if found := filesWith(t, filepath.Join(e.Root, "volumes"), []byte(bt.Canary)); len(found) > 0 {
		t.Errorf("a host file was copied into the volume: %v", found)
	}
	// The mount is at the symlink's target inside the container, where
	// the container's writes land in the volume.
	e.must("exec", "-T", "app", "sh", "-c", "echo from-container > /x/data/w")
	if out := mustRead(t, filepath.Join(e.Root, "volumes", e.Project+"_store", "_data", "w")); out != "from-container\n" {
		t.Errorf("the write through /x/data did not reach the volume: %q", out)
	}
	if r := e.berth("exec", "-T", "app", "cat", "/x/data/canary"); strings.Contains(r.Stdout, bt.Canary) {
		t.Error("the container reads the host's file through the image's symlink")
	}
	// Bind and tmpfs targets through the same link land in the container.
	if out := e.must("exec", "-T", "app", "cat", bt.Dir+"/bind/bound.txt"); out != "bound\n" {
		t.Errorf("bind through the image's symlink: %q", out)
	}
	e.must("exec", "-T", "app", "sh", "-c", "echo x > /x/tmp/t && grep -q ' "+bt.Dir+"/tmp tmpfs ' /proc/mounts")
	bt.untouched()
	e.must("down", "-v", "-t", "1")
}

func TestAttackSecretAndConfigTargetsThroughImageSymlink(t *testing.T) {
	e := newEnv(t)
	bt := newBait(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("token.txt", "s3cr3t\n")
	e.writeFile("compose.yaml", `
services:
  app:
    build: ./app
    image: hostile
    secrets: [token]
    configs:
      - source: conf
        target: /c/app.conf
secrets:
  token:
    file: ./token.txt
configs:
  conf:
    content: setting=1
`)
	e.buildHostile(fmt.Sprintf("FROM bb\nRUN mkdir -p /run && ln -s %s /run/secrets && ln -s %s/data /c\nCMD [\"sleep\", \"1000\"]\n", bt.Dir, bt.Dir), nil)
	e.must("up", "-d")
	// As Docker: the targets resolve inside the container.
	if out := e.must("exec", "-T", "app", "cat", bt.Dir+"/token"); out != "s3cr3t\n" {
		t.Errorf("secret at the symlink's target in the container: %q", out)
	}
	if out := e.must("exec", "-T", "app", "cat", "/c/app.conf"); out != "setting=1" {
		t.Errorf("config through the symlink: %q", out)
	}
	bt.untouched()
	e.must("down", "-t", "1")
	bt.untouched()
}

func TestAttackCpThroughContainerSymlink(t *testing.T) {
	e := newEnv(t)
	bt := newBait(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  app:\n    build: ./app\n    image: hostile\n")
	e.buildHostile(fmt.Sprintf("FROM bb\nRUN ln -s %s /x\nCMD [\"sleep\", \"1000\"]\n", bt.Dir), nil)
	e.writeFile("in.txt", "from the host\n")
	e.must("up", "-d")
	// The symlink's target does not exist in the container: nothing to
	// copy into or out of.
	e.berth("cp", filepath.Join(e.Dir, "in.txt"), "app:/x/data")
	e.berth("cp", filepath.Join(e.Dir, "in.txt"), "app:/x")
	got := filepath.Join(t.TempDir(), "got")
	if r := e.berth("cp", "app:/x/data/canary", got); r.Code == 0 {
		if b, _ := os.ReadFile(got); bytes.Equal(b, []byte(bt.Canary)) {
			t.Error("cp out of the container read the host's file")
		}
	}
	bt.untouched()
	// Once the container has the directory, cp goes there, as in Docker.
	e.must("exec", "-T", "app", "mkdir", "-p", bt.Dir+"/data")
	e.must("cp", filepath.Join(e.Dir, "in.txt"), "app:/x/data")
	if out := e.must("exec", "-T", "app", "cat", bt.Dir+"/data/in.txt"); out != "from the host\n" {
		t.Errorf("cp through the container's symlink: %q", out)
	}
	bt.untouched()
	e.must("down", "-t", "1")
}

func TestAttackWorkdirThroughImageSymlink(t *testing.T) {
	e := newEnv(t)
	bt := newBait(t)
	run := newBait(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", fmt.Sprintf("services:\n  app:\n    build: ./app\n    image: hostile\n    working_dir: /r/made-at-run\n    command: [\"sh\", \"-c\", \"pwd; readlink /w; cat %s/sub/here\"]\n", bt.Dir))
	e.buildHostile(fmt.Sprintf("FROM bb\nRUN ln -s %s /w && ln -s %s /r\nWORKDIR /w/sub\nRUN echo made > here\n", bt.Dir, run.Dir), nil)
	bt.untouched()
	out := e.must("run", "--rm", "-T", "app")
	// As Docker: WORKDIR follows the symlink inside the image, which keeps it.
	want := fmt.Sprintf("%s/made-at-run\n%s\nmade\n", run.Dir, bt.Dir)
	if out != want {
		t.Errorf("the container ran:\n%q\nwant\n%q", out, want)
	}
	bt.untouched()
	run.untouched()
}

func TestAttackCopyDestinationThroughStageSymlink(t *testing.T) {
	e := newEnv(t)
	bt := newBait(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", fmt.Sprintf("services:\n  app:\n    build: ./app\n    image: hostile\n    command: [\"sh\", \"-c\", \"readlink /d; cat %s/f.txt %s/data/g.txt\"]\n", bt.Dir, bt.Dir))
	e.buildHostile(fmt.Sprintf("FROM bb\nRUN ln -s %s /d\nCOPY f.txt /d/\nADD g.txt /d/data/\n", bt.Dir), map[string]string{"f.txt": "f\n", "g.txt": "g\n"})
	bt.untouched()
	// As Docker: the files land at the symlink's target in the image, and
	// the symlink stays.
	if out, want := e.must("run", "--rm", "-T", "app"), bt.Dir+"\nf\ng\n"; out != want {
		t.Errorf("the container ran %q, want %q", out, want)
	}
}

func TestAttackCopyFromStageThroughSymlinkToHostRoot(t *testing.T) {
	e := newEnv(t)
	bt := newBait(t)
	shadow := hostShadow(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  app:\n    build: ./app\n    image: hostile\n")
	for _, src := range []string{"/x/etc/shadow", "/x" + bt.Dir + "/data/canary", "/x" + bt.Dir + "/data"} {
		df := fmt.Sprintf("FROM bb AS evil\nRUN ln -s / /x\nFROM bb\nCOPY --from=evil %s /got\n", src)
		e.writeFile("app/Dockerfile", df)
		if r := e.berth("build"); r.Code == 0 {
			// Docker finds nothing at that path in the stage and fails; a
			// build that succeeds must not have copied the host's file.
			r := e.berth("run", "--rm", "-T", "--entrypoint", "", "app", "sh", "-c", "cat /got /got/canary 2>/dev/null")
			if bytes.Contains([]byte(r.Stdout), shadow) || strings.Contains(r.Stdout, bt.Canary) {
				t.Errorf("COPY --from=evil %s copied a host file into the image", strings.ReplaceAll(src, bt.Dir, "<bait>"))
			}
		}
	}
	// An image's own symlinks to its / are followed inside it, as Docker does.
	e.writeFile("app/Dockerfile", "FROM bb AS evil\nRUN ln -s / /x\nFROM bb\nCOPY --from=evil /x/etc/passwd /got\n")
	e.must("build")
	if out := e.must("run", "--rm", "-T", "--entrypoint", "", "app", "cat", "/got"); !strings.Contains(out, "app:x:1000:1000") {
		t.Errorf("COPY --from through the stage's symlink: %q", out)
	}
	bt.untouched()
}

func TestAttackBuildContextSymlinkOutOfContext(t *testing.T) {
	e := newEnv(t)
	bt := newBait(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", "services:\n  app:\n    build: ./app\n    image: hostile\n")
	e.writeFile("app/Dockerfile", "FROM bb\nCOPY link/data/canary /got\n")
	if err := os.Symlink(bt.Dir, filepath.Join(e.Dir, "app", "link")); err != nil {
		t.Fatal(err)
	}
	if r := e.berth("build"); r.Code == 0 {
		r := e.berth("run", "--rm", "-T", "--entrypoint", "", "app", "cat", "/got")
		if strings.Contains(r.Stdout, bt.Canary) {
			t.Error("COPY read a host file through a symlink out of the build context")
		}
	}
	bt.untouched()
}

func TestAttackVolumeSubpathThroughSymlinkInVolume(t *testing.T) {
	e := newEnv(t)
	bt := newBait(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("compose.yaml", fmt.Sprintf(`
services:
  writer:
    image: bb
    command: ["sh", "-c", "ln -s %s/data /v/sub; exec sleep 1000"]
    volumes: [store:/v]
  reader:
    image: bb
    command: sleep 1000
    volumes:
      - type: volume
        source: store
        target: /mnt
        volume:
          subpath: sub
volumes:
  store:
`, bt.Dir))
	e.must("up", "-d", "writer")
	e.eventually(10e9, "the writer's symlink in the volume", func() bool {
		_, err := os.Lstat(filepath.Join(e.Root, "volumes", e.Project+"_store", "_data", "sub"))
		return err == nil
	})
	// Docker resolves the subpath inside the volume, where the symlink's
	// target does not exist: the reader does not start.
	e.berth("up", "-d", "reader")
	if r := e.berth("exec", "-T", "reader", "cat", "/mnt/canary"); strings.Contains(r.Stdout, bt.Canary) {
		t.Error("a volume subpath bound a host directory through a symlink a container wrote")
	}
	e.berth("exec", "-T", "reader", "touch", "/mnt/w")
	bt.untouched()
	// A subpath that was a directory when the reader was created and is a
	// link when it restarts: the runtime resolves it again at the start.
	e.must("exec", "-T", "writer", "sh", "-c", "rm /v/sub && mkdir /v/sub && echo in-volume > /v/sub/f")
	e.must("up", "-d", "reader")
	if out := e.must("exec", "-T", "reader", "cat", "/mnt/f"); out != "in-volume\n" {
		t.Fatalf("the subpath's directory in the reader: %q", out)
	}
	e.must("exec", "-T", "writer", "sh", "-c", fmt.Sprintf("rm -r /v/sub && ln -s %s/data /v/sub", bt.Dir))
	e.berth("restart", "-t", "1", "reader")
	if r := e.berth("exec", "-T", "reader", "cat", "/mnt/canary"); strings.Contains(r.Stdout, bt.Canary) {
		t.Error("a restarted container's volume subpath bound a host directory through a symlink a container wrote")
	}
	e.berth("exec", "-T", "reader", "touch", "/mnt/w")
	bt.untouched()
	e.must("down", "-v", "-t", "1")
}
