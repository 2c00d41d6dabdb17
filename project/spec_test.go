package project

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/runtime"
	"github.com/compose-spec/compose-go/v2/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestConfigHashIgnoresScale(t *testing.T) {
	two, three := 2, 3
	a := types.ServiceConfig{Name: "web", Scale: &two}
	a.Image = "x"
	b := types.ServiceConfig{Name: "web", Scale: &three}
	b.Image = "x"
	c := types.ServiceConfig{Name: "web"}
	c.Image = "y"
	ha, _ := ConfigHash(a)
	hb, _ := ConfigHash(b)
	hc, _ := ConfigHash(c)
	if ha != hb {
		t.Error("scaling changes the config hash")
	}
	if ha == hc {
		t.Error("a changed image keeps the config hash")
	}
}

func TestCommandMergesLikeDocker(t *testing.T) {
	img := v1.Config{Entrypoint: []string{"/entry"}, Cmd: []string{"default"}}
	svc := func(entry, cmd types.ShellCommand) types.ServiceConfig {
		var s types.ServiceConfig
		s.Entrypoint, s.Command = entry, cmd
		return s
	}
	for _, tc := range []struct {
		name string
		svc  types.ServiceConfig
		want []string
	}{
		{"image only", svc(nil, nil), []string{"/entry", "default"}},
		{"command replaces cmd", svc(nil, types.ShellCommand{"run"}), []string{"/entry", "run"}},
		{"entrypoint drops the image's cmd", svc(types.ShellCommand{"/other"}, nil), []string{"/other"}},
		{"both", svc(types.ShellCommand{"/other"}, types.ShellCommand{"x"}), []string{"/other", "x"}},
		{"empty entrypoint", svc(types.ShellCommand{}, types.ShellCommand{"sh"}), []string{"sh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := command(tc.svc, img); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite the golden files under testdata/spec")

// TestServiceSpecGolden pins how each service of testdata/spec/*/compose.yaml
// becomes a runtime.Spec over the image configuration of
// testdata/spec/image.json. Run with -update after a deliberate change and
// review the diff of the golden files.
func TestServiceSpecGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/spec/image.json")
	if err != nil {
		t.Fatal(err)
	}
	var img v1.Config
	if err := json.Unmarshal(raw, &img); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/spec/*/compose.yaml")
	if len(files) == 0 {
		t.Fatal("no cases under testdata/spec")
	}
	for _, file := range files {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			p, err := Load(context.Background(), LoadOptions{Files: []string{file}, ProjectName: "golden", Environ: []string{}})
			if err != nil {
				t.Fatal(err)
			}
			specs := map[string]runtime.Spec{}
			for _, name := range p.ServiceNames() {
				if specs[name], err = ServiceSpec(p, p.Services[name], img); err != nil {
					t.Fatalf("service %s: %v", name, err)
				}
			}
			got, err := json.MarshalIndent(specs, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join(dir, "spec.golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestServiceSpecGolden -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the Specs differ from %s (-update rewrites it):\n%s", golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff lists the lines that differ between want and got, by position.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n-%s\n+%s\n", i+1, a, c)
		}
	}
	return b.String()
}

func TestSecurityOptRefused(t *testing.T) {
	for _, tc := range []struct {
		opts  []string
		field string
		want  string
	}{
		{[]string{"apparmor=unconfined"}, "security_opt[0]", `"apparmor=unconfined": not supported by berth`},
		{[]string{"no-new-privileges", "label:disable"}, "security_opt[1]", `"label:disable": not supported by berth`},
		{[]string{"no-new-privileges:maybe"}, "security_opt[0]", "want no-new-privileges, no-new-privileges:true or no-new-privileges:false"},
		{[]string{"seccomp="}, "security_opt[0]", "want seccomp=unconfined or seccomp=FILE"},
		{[]string{"seccomp=unconfined", "seccomp=p.json"}, "security_opt[1]", "security_opt[0] already chooses the seccomp profile"},
	} {
		t.Run(strings.Join(tc.opts, ","), func(t *testing.T) {
			dir := t.TempDir()
			compose := "services:\n  web:\n    image: x\n    security_opt:\n"
			for _, o := range tc.opts {
				compose += fmt.Sprintf("      - %q\n", o)
			}
			write(t, dir, "compose.yaml", compose)
			_, err := load(t, dir, LoadOptions{})
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.File != "compose.yaml" || ve.Service != "web" || ve.Field != tc.field || !strings.Contains(ve.Msg, tc.want) {
				t.Fatalf("got %v, want a ValidationError of compose.yaml, service web, %s: %s", err, tc.field, tc.want)
			}
		})
	}
}

// A seccomp profile file is read when a verb starts, before anything is
// created: missing or not a profile, it is refused naming the entry.
func TestSeccompFileCheckedBeforeStart(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "compose.yaml", "services:\n  web:\n    image: x\n    security_opt: [no-new-privileges, seccomp=profiles/web.json]\n")
	p, err := load(t, dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ content, want string }{
		{"", "no such file"},
		{`{"defaultAction": "SCMP_ACT_MAYBE"}`, "invalid seccomp profile"},
	} {
		if tc.content != "" {
			os.MkdirAll(filepath.Join(dir, "profiles"), 0o755)
			write(t, dir, "profiles/web.json", tc.content)
		}
		err := checkHost(p, []string{"web"})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "security_opt[1]" || !strings.Contains(ve.Msg, filepath.Join(dir, "profiles/web.json")) || !strings.Contains(ve.Msg, tc.want) {
			t.Errorf("got %v, want security_opt[1] naming the file and %q", err, tc.want)
		}
	}
	write(t, dir, "profiles/web.json", `{"defaultAction": "SCMP_ACT_ALLOW"}`)
	if err := checkHost(p, []string{"web"}); err != nil {
		t.Errorf("a valid profile refused: %v", err)
	}
}

// A service's healthcheck takes what it leaves unset from the image's, as
// Docker merges them; before, `healthcheck: {interval: 5s}` kept the
// image's test but dropped its timeout and retries.
func TestHealthcheckMergesWithTheImage(t *testing.T) {
	dur := func(d time.Duration) *types.Duration { v := types.Duration(d); return &v }
	img := v1.Config{Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Minute, Timeout: 7 * time.Second, StartPeriod: time.Second, Retries: 9}}
	retries := uint64(2)
	for _, tc := range []struct {
		name string
		hc   *types.HealthCheckConfig
		img  v1.Config
		want *runtime.Healthcheck
	}{
		{"none set: the image's", nil, img, &runtime.Healthcheck{Test: []string{"CMD", "check"}, Interval: time.Minute, Timeout: 7 * time.Second, StartPeriod: time.Second, Retries: 9}},
		{"interval only", &types.HealthCheckConfig{Interval: dur(5 * time.Second)}, img, &runtime.Healthcheck{Test: []string{"CMD", "check"}, Interval: 5 * time.Second, Timeout: 7 * time.Second, StartPeriod: time.Second, Retries: 9}},
		{"own test and retries", &types.HealthCheckConfig{Test: []string{"CMD", "mine"}, Retries: &retries}, img, &runtime.Healthcheck{Test: []string{"CMD", "mine"}, Interval: time.Minute, Timeout: 7 * time.Second, StartPeriod: time.Second, Retries: 2}},
		{"disabled", &types.HealthCheckConfig{Disable: true}, img, nil},
		{"interval only, image disables", &types.HealthCheckConfig{Interval: dur(5 * time.Second)}, v1.Config{Healthcheck: &v1.HealthConfig{Test: []string{"NONE"}}}, nil},
		{"interval only, image has none", &types.HealthCheckConfig{Interval: dur(5 * time.Second)}, v1.Config{}, nil},
	} {
		var s types.ServiceConfig
		s.HealthCheck = tc.hc
		got := healthcheck(s, tc.img)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
