package project

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWatchRulesChecks(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // in the error; none: no error
		rules      int
	}{
		{"no rules", "services:\n  api:\n    image: x\n", []string{"no develop.watch rules", "  api:\n    develop:\n      watch:\n        - action: sync\n          path: ./src\n          target: /app/src"}, 0},
		{"sync without target", "services:\n  a:\n    image: x\n    develop:\n      watch:\n        - action: sync\n          path: ./src\n", []string{`service "a": develop.watch[0]: action sync needs target`}, 0},
		{"rebuild without build", "services:\n  a:\n    image: x\n    develop:\n      watch:\n        - action: rebuild\n          path: ./src\n", []string{"action rebuild needs a build: section"}, 0},
		{"sync+exec without command", "services:\n  a:\n    image: x\n    develop:\n      watch:\n        - action: sync+exec\n          path: ./src\n          target: /app\n", []string{"sync+exec needs exec.command"}, 0},
		{"missing path", "services:\n  a:\n    image: x\n    develop:\n      watch:\n        - action: restart\n          path: ./nowhere\n", []string{"nowhere"}, 0},
		{"every action", "services:\n  a:\n    build: .\n    develop:\n      watch:\n" +
			"        - {action: sync, path: ./src, target: /app}\n        - {action: rebuild, path: ./src}\n        - {action: restart, path: ./src}\n" +
			"        - {action: sync+restart, path: ./src, target: /app}\n        - {action: sync+exec, path: ./src, target: /app, exec: {command: [\"true\"]}}\n", nil, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, "src"), 0o755)
			write(t, dir, "compose.yaml", tc.yaml)
			p, err := load(t, dir, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rules, err := watchRules(p, nil)
			if tc.want == nil {
				if err != nil || len(rules) != tc.rules {
					t.Fatalf("%d rules, %v; want %d", len(rules), err, tc.rules)
				}
				for _, r := range rules {
					if r.Path != filepath.Join(dir, "src") && !strings.HasSuffix(r.Path, "/src") {
						t.Errorf("path %q not made absolute", r.Path)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tc.name == "no rules" && !errors.Is(err, ErrNoWatch) {
				t.Errorf("error %v is not ErrNoWatch", err)
			}
		})
	}
}

func TestRestartDependents(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "compose.yaml", `services:
  db: {image: x}
  api: {image: x, depends_on: {db: {condition: service_started, restart: true}}}
  worker: {image: x, depends_on: {api: {condition: service_started, restart: true}}}
  web: {image: x, depends_on: [db]}
`)
	p, err := load(t, dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(restartDependents(p, "db"), ","); got != "api,worker" {
		t.Errorf("restart dependents of db: %s, want api,worker", got)
	}
}
