package apicheck

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/project"
	"github.com/berthdev/berth/project/kube"
	"k8s.io/kubernetes/pkg/apis/apps"
	api "k8s.io/kubernetes/pkg/apis/core"
)

// samples are the directories of samples/ that hold a compose project.
func samples(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("../../../samples/*")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range dirs {
		if _, err := project.FindFiles(project.LoadOptions{WorkingDir: d}, map[string]string{}); err == nil {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		t.Fatal("no sample found in samples/")
	}
	return out
}

// The golden exports (every sample, and the projects that use every
// mapped field) are what the API server accepts.
func TestGoldenExportsPassTheAPIServersValidation(t *testing.T) {
	files, err := filepath.Glob("../testdata/golden/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden exports: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := Check(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) == 0 {
				t.Fatal("no object")
			}
		})
	}
}

// Every sample, exported now (not from a golden file, which a new sample
// may lack), passes; each workload of the export is one of its services.
func TestEverySampleExportPassesTheAPIServersValidation(t *testing.T) {
	for _, dir := range samples(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			p, err := project.Load(context.Background(), project.LoadOptions{WorkingDir: dir, Environ: os.Environ()})
			if err != nil {
				t.Fatal(err)
			}
			x, err := project.ExportKubernetes(context.Background(), p, nil, project.KubernetesOptions{Options: kube.Options{Registry: "registry.example.com"}})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := x.WriteStream(&b); err != nil {
				t.Fatal(err)
			}
			objs, err := Check([]byte(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			workloads := map[string]bool{}
			for _, o := range objs {
				switch o.GVK.Kind {
				case "Deployment", "StatefulSet", "Job":
					workloads[o.Name] = true
				}
			}
			for _, n := range p.ServiceNames() {
				if !workloads[n] {
					t.Errorf("service %s has no workload in the export", n)
				}
			}
		})
	}
}

// The binary writes, for every sample, files the API server accepts. In
// CI the binary is there, and this test must run.
func TestBinaryExportOfEverySamplePasses(t *testing.T) {
	bin := os.Getenv("BERTH_BINARY")
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("BERTH_BINARY is not set")
		}
		t.Skip("BERTH_BINARY is not set")
	}
	for _, dir := range samples(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			out := t.TempDir()
			cmd := exec.Command(bin, "export", "kubernetes", "--registry", "registry.example.com", "-o", out)
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("berth export kubernetes: %v\n%s", err, b)
			}
			files, err := filepath.Glob(filepath.Join(out, "*.yaml"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no manifest written: %v", err)
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				objs, err := Check(b)
				if err != nil {
					t.Errorf("%s: %v", filepath.Base(f), err)
					continue
				}
				if len(objs) != 1 {
					t.Errorf("%s: %d objects, want one a file", filepath.Base(f), len(objs))
				}
			}
		})
	}
}

// What the API server would store is what the compose file says: the
// checks above would pass vacuously if nothing survived decoding.
func TestCheckedObjectsCarryTheComposeModel(t *testing.T) {
	b, err := os.ReadFile("../testdata/golden/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Check(b)
	if err != nil {
		t.Fatal(err)
	}
	var web *apps.Deployment
	var published *api.Service
	for _, o := range objs {
		switch {
		case o.GVK.Kind == "Deployment" && o.Name == "web":
			web = o.Internal.(*apps.Deployment)
		case o.GVK.Kind == "Service" && o.Name == "web-published":
			published = o.Internal.(*api.Service)
		}
	}
	if web == nil || published == nil {
		t.Fatalf("no Deployment web or Service web-published among %d objects", len(objs))
	}
	spec := web.Spec.Template.Spec
	c := spec.Containers[0]
	if web.Spec.Replicas != 2 || c.Image != "registry.example.com:5000/shop/web:1.2" || c.WorkingDir != "/srv" {
		t.Errorf("replicas %d image %s workdir %s", web.Spec.Replicas, c.Image, c.WorkingDir)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.PeriodSeconds != 10 || c.ReadinessProbe.FailureThreshold != 5 {
		t.Errorf("readiness probe %+v", c.ReadinessProbe)
	}
	if len(spec.InitContainers) != 2 || spec.ServiceAccountName != "shop-wait" {
		t.Errorf("init containers %d, service account %q", len(spec.InitContainers), spec.ServiceAccountName)
	}
	if published.Spec.Type != api.ServiceTypeNodePort || len(published.Spec.Ports) != 4 || published.Spec.Ports[0].NodePort != 30080 {
		t.Errorf("published service %+v", published.Spec)
	}
}

// The checks reject what the API server rejects, for the reason it gives.
func TestCheckRejectsWhatTheAPIServerRejects(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"unknown field", `apiVersion: v1
kind: ConfigMap
metadata: {name: x}
dta: {a: b}
`, `unknown field "dta"`},
		{"duplicate field", `apiVersion: v1
kind: ConfigMap
metadata: {name: x}
data: {a: b}
data: {c: d}
`, `key "data" already set`},
		{"selector not matching the template", `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: x, image: busybox}]}
`, "`selector` does not match template `labels`"},
		{"service name not a DNS label", `apiVersion: v1
kind: Service
metadata: {name: my_db}
spec: {clusterIP: None, selector: {app: x}}
`, "RFC 1123 label"},
		{"two unnamed ports", `apiVersion: v1
kind: Service
metadata: {name: x}
spec: {selector: {app: x}, ports: [{port: 80}, {port: 81}]}
`, "spec.ports[1].name: Required value"},
		{"job restarting always", `apiVersion: batch/v1
kind: Job
metadata: {name: x}
spec:
  template:
    spec: {restartPolicy: Always, containers: [{name: x, image: busybox}]}
`, "spec.template.spec.restartPolicy"},
		{"claim without size", `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: x}
spec: {accessModes: [ReadWriteOnce]}
`, "spec.resources[storage]: Required value"},
		{"a warning of the API server", `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: x, image: busybox, resources: {limits: {memory: 100m}}}
`, "the API server warns"},
		{"a kind berth does not write", `apiVersion: v1
kind: Pod
metadata: {name: x}
spec: {containers: [{name: x, image: busybox}]}
`, "not a kind berth writes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Check([]byte(c.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("rejected for another reason than %q: %v", c.want, err)
			}
		})
	}
}
