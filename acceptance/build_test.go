package acceptance

import (
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

const multiStage = `# syntax=docker/dockerfile:1
ARG BASE=bb
FROM ${BASE} AS builder
WORKDIR /src
COPY . .
RUN cat greeting.txt > /src/out.txt && echo "built" >> /src/out.txt

FROM ${BASE} AS unused
RUN exit 1

FROM ${BASE}
ENV GREETING=hi
WORKDIR /app
COPY --from=builder /src/out.txt ./
COPY --chown=app:app --chmod=640 greeting.txt owned.txt
USER app
ENTRYPOINT ["sh", "-c"]
CMD ["cat /app/out.txt; echo $GREETING; id -un; stat -c '%U %a' /app/owned.txt; ls /app"]
`

func TestBuildMultiStageCacheAndIgnore(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("app/Dockerfile", multiStage)
	e.writeFile("app/greeting.txt", "hello\n")
	e.writeFile("app/secret.key", "never in the image\n")
	e.writeFile("app/.dockerignore", "*.key\n")
	e.writeFile("compose.yaml", "services:\n  app:\n    build: ./app\n    image: built/app\n")
	r := e.berth("build")
	if r.Code != 0 {
		t.Fatalf("build: %s", r.Stderr)
	}
	if strings.Contains(r.Stderr, "exit 1") {
		t.Error("a stage the target does not need was built")
	}
	out := e.must("run", "--rm", "-T", "app")
	for _, want := range []string{"hello\nbuilt\n", "hi\n", "app\n", "app 640\n", "out.txt\nowned.txt\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the built image ran %q, missing %q", out, want)
		}
	}
	if r := e.berth("run", "--rm", "-T", "--entrypoint", "", "app", "sh", "-c", "find / -name secret.key 2>/dev/null"); strings.Contains(r.Stdout, "secret.key") {
		t.Error(".dockerignore'd file reached the image")
	}
	// Nothing changed: every step is a cache hit.
	r = e.berth("build")
	if r.Code != 0 || strings.Count(r.Stderr, "CACHED") < 5 {
		t.Errorf("rebuild was not all cache hits:\n%s", r.Stderr)
	}
	// One context file changed: only steps from the COPY that takes it rerun.
	e.writeFile("app/greeting.txt", "changed\n")
	r = e.berth("build")
	lines := strings.Split(r.Stderr, "\n")
	var cached []string
	for i, l := range lines {
		if strings.HasSuffix(l, "CACHED") && i > 0 {
			cached = append(cached, lines[i-1])
		}
	}
	if len(cached) == 0 || !strings.Contains(strings.Join(cached, "\n"), "WORKDIR /src") || strings.Contains(strings.Join(cached, "\n"), "COPY . .") {
		t.Errorf("after a change, cached steps were %v:\n%s", cached, r.Stderr)
	}
	if out := e.must("run", "--rm", "-T", "app"); !strings.Contains(out, "changed\nbuilt\n") {
		t.Errorf("rebuilt image ran %q", out)
	}
	// up --build uses the same builder.
	e.must("up", "-d", "--build")
	e.must("down")
}

func TestDockerfileErrorNamesLine(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("app/Dockerfile", "FROM bb\nRUN true\nCOPY\n")
	e.writeFile("compose.yaml", "services:\n  app:\n    build: ./app\n")
	r := e.berth("build")
	if r.Code == 0 || !strings.Contains(r.Stderr, "line 3") || !strings.Contains(r.Stderr, "Dockerfile") {
		t.Errorf("Dockerfile error: %d %s", r.Code, r.Stderr)
	}
	e.writeFile("app/Dockerfile", "FROM bb\nRUN exit 3\n")
	r = e.berth("build")
	if r.Code == 0 || !strings.Contains(r.Stderr, "exit code 3") {
		t.Errorf("failing RUN: %d %s", r.Code, r.Stderr)
	}
}

// The Flask tutorial's Dockerfile: COPY of a file to an existing directory
// without a trailing slash puts the file in it (it once replaced /code).
const flaskShaped = `FROM bb
WORKDIR /code
COPY requirements.txt /code
RUN ls /code > /listing
COPY . .
COPY requirements.txt /tmp/
CMD ["sh", "-c", "cat /listing; ls /code; stat -c '%a' /tmp"]
`

func TestBuildCopyIntoWorkdirAsDocker(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("app/Dockerfile", flaskShaped)
	e.writeFile("app/requirements.txt", "flask\n")
	e.writeFile("app/app.py", "print('hi')\n")
	e.writeFile("compose.yaml", "services:\n  web:\n    build: ./app\n    image: built/flask\n")
	e.must("build")
	out := e.must("run", "--rm", "-T", "web")
	if want := "requirements.txt\nDockerfile\napp.py\nrequirements.txt\n1777\n"; out != want {
		t.Errorf("the built image ran %q, want %q", out, want)
	}
}
