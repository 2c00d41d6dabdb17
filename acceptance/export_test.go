package acceptance

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/busybox"
)

// export kubernetes names the image berth builds under --registry, and
// --push builds it and pushes it there first: the registry then serves
// the very image the store has. --strict fails, naming each field
// Kubernetes cannot express. (The manifests' validity is checked with the
// API server's own code in project/kube/apicheck.)
func TestExportKubernetesPushesBuiltImagesAndNamesThem(t *testing.T) {
	e := newEnv(t)
	e.Env = append(e.Env, "DOCKER_CONFIG="+t.TempDir())
	reg := startRegistry(t, "", "")
	e.importBusybox("bb", busybox.Options{})
	e.writeFile("app/Dockerfile", "FROM bb\nRUN echo built > /built.txt\n")
	e.writeFile("compose.yaml", `services:
  app:
    build: ./app
    ports: ["127.0.0.1::80"]
  db:
    image: bb
    init: true
`)
	remote := reg.Addr + "/" + e.Project + "-app:latest"

	r := e.berth("export", "kubernetes", "--strict", "--registry", reg.Addr)
	if r.Code != 1 || r.Stdout != "" {
		t.Fatalf("--strict: exit %d, stdout %q", r.Code, r.Stdout)
	}
	for _, want := range []string{`service "db": init:`, `service "app": ports[0]:`} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("--strict does not name %s:\n%s", want, r.Stderr)
		}
	}
	if r := e.berth("export", "kubernetes", "--push"); r.Code != 2 {
		t.Errorf("--push without --registry: exit %d", r.Code)
	}

	// Without --push: the stream names the image, nothing is built.
	out := e.must("export", "kubernetes", "--registry", reg.Addr)
	if !strings.Contains(out, "image: "+remote+"\n") || strings.Count(out, "\n---\n") != 3 {
		t.Errorf("the stream does not name %s:\n%s", remote, out)
	}
	if r := e.berth("image", "inspect", e.Project+"-app"); r.Code == 0 {
		t.Error("export without --push built the image")
	}

	dir := filepath.Join(t.TempDir(), "k8s")
	r = e.berth("export", "kubernetes", "--registry", reg.Addr, "--push", "-o", dir)
	if r.Code != 0 {
		t.Fatalf("export --push: exit %d\n%s", r.Code, r.Stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "app-deployment.yaml"))
	if err != nil || !strings.Contains(string(b), "image: "+remote+"\n") {
		t.Fatalf("app-deployment.yaml: %v\n%s", err, b)
	}
	local := strings.TrimSpace(inspectField(t, e, e.Project+"-app", "Digest"))
	req, _ := http.NewRequest(http.MethodHead, "http://"+reg.Addr+"/v2/"+e.Project+"-app/manifests/latest", nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); resp.StatusCode != 200 || got != local {
		t.Errorf("registry has %s (status %d), the store built %s", got, resp.StatusCode, local)
	}
	resp, err = http.Get("http://" + reg.Addr + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	var catalog struct{ Repositories []string }
	json.NewDecoder(resp.Body).Decode(&catalog)
	resp.Body.Close()
	if len(catalog.Repositories) != 1 {
		t.Errorf("pushed %v, want the built image only (db's image is not built by berth)", catalog.Repositories)
	}
}
