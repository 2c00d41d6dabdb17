package kube_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/project"
	"github.com/berthdev/berth/project/kube"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCase is a project exported with options, whose manifests and
// warnings are compared with testdata/golden/NAME.yaml and NAME.warnings.
type goldenCase struct {
	name    string
	dir     string
	environ []string
	opts    kube.Options
}

// registry is the registry the golden exports name for built images.
const registry = "registry.example.com:5000"

// goldenCases are the projects of testdata/projects and every sample.
func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	cases := []goldenCase{
		{name: "full", dir: "testdata/projects/full", environ: []string{"TLS_KEY=-----BEGIN KEY-----"}, opts: kube.Options{Registry: registry}},
		{name: "unmapped", dir: "testdata/projects/unmapped"},
		{name: "loadbalancer", dir: "testdata/projects/full", environ: []string{"TLS_KEY=k"},
			opts: kube.Options{Registry: registry, ServiceType: kube.LoadBalancer, VolumeSize: "5Gi", Services: []string{"cache", "reports"}}},
	}
	samples, err := filepath.Glob("../../samples/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range samples {
		if _, err := project.FindFiles(project.LoadOptions{WorkingDir: dir}, map[string]string{}); err != nil {
			continue
		}
		cases = append(cases, goldenCase{name: "sample-" + filepath.Base(dir), dir: dir, opts: kube.Options{Registry: registry}})
	}
	return cases
}

// export loads and exports a case as `berth export kubernetes` does.
func export(t *testing.T, c goldenCase) *kube.Export {
	t.Helper()
	environ := c.environ
	if environ == nil {
		environ = []string{}
	}
	p, err := project.Load(context.Background(), project.LoadOptions{WorkingDir: c.dir, Environ: environ, Services: c.opts.Services})
	if err != nil {
		t.Fatal(err)
	}
	x, err := project.ExportKubernetes(context.Background(), p, nil, project.KubernetesOptions{Options: c.opts})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func warningsText(x *kube.Export) string {
	var b strings.Builder
	for _, n := range x.Notes {
		b.WriteString("note: " + n.String() + "\n")
	}
	for _, w := range x.Warnings {
		b.WriteString("warning: " + w.String() + "\n")
	}
	return b.String()
}

// TestGolden compares each export with its golden files; -update
// rewrites them. A sample added without its golden files fails here:
// run `go test ./project/kube -run TestGolden -update` and read the diff.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			x := export(t, c)
			var stream bytes.Buffer
			if err := x.WriteStream(&stream); err != nil {
				t.Fatal(err)
			}
			compare(t, filepath.Join("testdata/golden", c.name+".yaml"), stream.Bytes())
			compare(t, filepath.Join("testdata/golden", c.name+".warnings"), []byte(warningsText(x)))
		})
	}
}

func compare(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./project/kube -run TestGolden -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to rewrite it and read the diff):\n%s", path, diff(string(want), string(got)))
	}
}

// diff shows the first lines that differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, a, b)
		}
	}
	return ""
}
