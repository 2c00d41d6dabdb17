package kube_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berthdev/berth/project"
	"github.com/berthdev/berth/project/kube"
)

// inline loads a compose file written into a temp dir with files beside
// it, and exports it.
func inline(t *testing.T, compose string, files map[string]string, opts project.KubernetesOptions) (*kube.Export, error) {
	t.Helper()
	dir := t.TempDir()
	files["compose.yaml"] = compose
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := project.Load(context.Background(), project.LoadOptions{WorkingDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return project.ExportKubernetes(context.Background(), p, nil, opts)
}

func find[T any](t *testing.T, x *kube.Export, kind, name string) T {
	t.Helper()
	for _, o := range x.Objects {
		if o.Kind == kind && o.Name == name {
			if v, ok := o.Object.(T); ok {
				return v
			}
		}
	}
	var zero T
	t.Fatalf("no %s %s among %v", kind, name, objectNames(x))
	return zero
}

func objectNames(x *kube.Export) []string {
	var out []string
	for _, o := range x.Objects {
		out = append(out, o.Kind+"/"+o.Name)
	}
	return out
}

// --strict turns each warning into an error that names it; a project whose
// fields all map passes.
func TestStrictFailsWithEveryWarningAndPassesAMappedProject(t *testing.T) {
	x := export(t, goldenCase{dir: "testdata/projects/unmapped"})
	p, err := project.Load(context.Background(), project.LoadOptions{WorkingDir: "testdata/projects/unmapped", Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = project.ExportKubernetes(context.Background(), p, nil, project.KubernetesOptions{Strict: true})
	if !errors.Is(err, kube.ErrStrict) {
		t.Fatalf("strict export of unmapped fields: %v", err)
	}
	for _, w := range x.Warnings {
		if !strings.Contains(err.Error(), w.String()) {
			t.Errorf("the strict error does not name %q", w)
		}
	}
	full, err := project.Load(context.Background(), project.LoadOptions{WorkingDir: "testdata/projects/full", Environ: []string{"TLS_KEY=k"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := project.ExportKubernetes(context.Background(), full, nil, project.KubernetesOptions{Strict: true, Options: kube.Options{Registry: registry}}); err != nil {
		t.Errorf("strict export of mapped fields: %v", err)
	}
}

// Named services come with what they depend on, and nothing else.
func TestExportOfNamedServicesTakesTheirDependencies(t *testing.T) {
	x := export(t, goldenCase{dir: "testdata/projects/full", environ: []string{"TLS_KEY=k"}, opts: kube.Options{Registry: registry, Services: []string{"web"}}})
	workloads := map[string]bool{}
	for _, o := range x.Objects {
		switch o.Kind {
		case "Deployment", "StatefulSet", "Job":
			workloads[o.Name] = true
		}
	}
	for _, want := range []string{"web", "db", "migrate", "cache"} {
		if !workloads[want] {
			t.Errorf("no workload %s in %v", want, objectNames(x))
		}
	}
	for _, not := range []string{"agent", "reports"} {
		if workloads[not] {
			t.Errorf("%s exported, which web does not depend on", not)
		}
	}
}

func TestWriteDirWritesOneFilePerObjectAndKeepsSecretsPrivate(t *testing.T) {
	x := export(t, goldenCase{dir: "testdata/projects/full", environ: []string{"TLS_KEY=k"}, opts: kube.Options{Registry: registry}})
	dir := filepath.Join(t.TempDir(), "k8s")
	// An older file of the same name, readable by all, is rewritten
	// private.
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "api-key-secret.yaml"), []byte("old"), 0o644)
	files, err := x.WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(x.Objects) {
		t.Fatalf("%d files for %d objects", len(files), len(x.Objects))
	}
	for i, o := range x.Objects {
		fi, err := os.Stat(files[i])
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o644)
		if o.Kind == "Secret" {
			want = 0o600
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", files[i], fi.Mode().Perm(), want)
		}
		b, _ := os.ReadFile(files[i])
		if !strings.Contains(string(b), "kind: "+o.Kind+"\n") || strings.Contains(string(b), "\n---\n") {
			t.Errorf("%s is not the one %s", files[i], o.Kind)
		}
	}
	if !slices.Contains(files, filepath.Join(dir, "api-key-secret.yaml")) {
		t.Errorf("no api-key-secret.yaml in %v", files)
	}
}

func TestOptionsAndSizesAreChecked(t *testing.T) {
	compose := "services:\n  db:\n    image: postgres\n    volumes: [data:/data]\nvolumes:\n  data:\n"
	for name, opts := range map[string]kube.Options{
		"service type": {ServiceType: "ClusterIP"},
		"volume size":  {VolumeSize: "lots"},
	} {
		if _, err := inline(t, compose, map[string]string{}, project.KubernetesOptions{Options: opts}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	bad := "services:\n  db:\n    image: postgres\n    volumes: [data:/data]\nvolumes:\n  data:\n    x-berth-size: a lot\n"
	if _, err := inline(t, bad, map[string]string{}, project.KubernetesOptions{}); err == nil || !strings.Contains(err.Error(), "x-berth-size") {
		t.Errorf("x-berth-size: a lot: %v", err)
	}
	x, err := inline(t, strings.Replace(compose, "    volumes:", "    ports: [\"30432:5432\"]\n    volumes:", 1), map[string]string{}, project.KubernetesOptions{Options: kube.Options{VolumeSize: "3Gi", ServiceType: "loadbalancer"}})
	if err != nil {
		t.Fatal(err)
	}
	pvc := find[*kube.PersistentVolumeClaim](t, x, "PersistentVolumeClaim", "data")
	if q := pvc.Spec.Resources.Requests["storage"]; q != "3Gi" {
		t.Errorf("claim size %s, want the --volume-size 3Gi", q)
	}
	if svc := find[*kube.Service](t, x, "Service", "db-published"); svc.Spec.Type != kube.LoadBalancer || svc.Spec.Ports[0].NodePort != 0 {
		t.Errorf("--service-type loadbalancer: %+v", svc.Spec)
	}
	if _, err := inline(t, compose, map[string]string{}, project.KubernetesOptions{Push: true}); !errors.Is(err, project.ErrNoRegistry) {
		t.Errorf("--push without --registry: %v", err)
	}
}

// A service name that is no DNS label gets the nearest one, with a
// warning; two that would meet are an error.
func TestServiceNamesBecomeDNSLabels(t *testing.T) {
	x, err := inline(t, "services:\n  My_DB:\n    image: postgres\n  web:\n    image: nginx\n    depends_on:\n      My_DB: {condition: service_healthy}\n", map[string]string{}, project.KubernetesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := find[*kube.Deployment](t, x, "Deployment", "my-db")
	if d.Spec.Template.Spec.Containers[0].Name != "my-db" {
		t.Errorf("container name %q", d.Spec.Template.Spec.Containers[0].Name)
	}
	web := find[*kube.Deployment](t, x, "Deployment", "web")
	if args := web.Spec.Template.Spec.InitContainers[0].Args; !slices.Contains(args, "deployment/my-db") {
		t.Errorf("wait for %v", args)
	}
	if len(x.Warnings) != 1 || x.Warnings[0].Service != "My_DB" || x.Warnings[0].Field != "name" {
		t.Errorf("warnings %v", x.Warnings)
	}
	if _, err := inline(t, "services:\n  a_b:\n    image: x\n  a-b:\n    image: x\n", map[string]string{}, project.KubernetesOptions{}); err == nil {
		t.Error("a_b and a-b both exported as a-b")
	}
}

// A bind-mounted file is copied, as text or as binary data; one too big
// for a ConfigMap is refused, with a warning.
func TestBindMountedFilesBecomeConfigMaps(t *testing.T) {
	compose := `services:
  app:
    image: app
    volumes:
      - ./logo.png:/srv/logo.png:ro
      - ./big.bin:/srv/big.bin:ro
`
	x, err := inline(t, compose, map[string]string{"logo.png": "\x89PNG\r\n\x1a\n\xff\xfe", "big.bin": strings.Repeat("x", 1<<20+1)}, project.KubernetesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm := find[*kube.ConfigMap](t, x, "ConfigMap", "app-logo-png")
	if b, _ := base64.StdEncoding.DecodeString(cm.BinaryData["logo.png"]); string(b) != "\x89PNG\r\n\x1a\n\xff\xfe" || len(cm.Data) != 0 {
		t.Errorf("ConfigMap %+v", cm)
	}
	if len(x.Warnings) != 1 || !strings.Contains(x.Warnings[0].Msg, "more than a ConfigMap holds") {
		t.Errorf("warnings %v", x.Warnings)
	}
	if len(x.Notes) != 1 || !strings.Contains(x.Notes[0].Msg, "ConfigMap app-logo-png") {
		t.Errorf("notes %v", x.Notes)
	}
	d := find[*kube.Deployment](t, x, "Deployment", "app")
	if m := d.Spec.Template.Spec.Containers[0].VolumeMounts; len(m) != 1 || m[0].MountPath != "/srv/logo.png" || m[0].SubPath != "logo.png" {
		t.Errorf("mounts %+v", m)
	}
}
