package runtime_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/runtime"
)

// A start that fails undoes all it did, whichever step failed. Under a
// root reached through a symlink, a failed start left its overlay mounted
// (the mount table names the resolved path, which the unmount never
// looked for), and removing the container then renamed its directory to
// <id>.removing with the mount inside, where nothing ever removed it.
func TestFailedStartLeavesNothing(t *testing.T) {
	requireRoot(t)
	t.Run("root", func(t *testing.T) {
		root := t.TempDir()
		testFailedStarts(t, root, root)
	})
	t.Run("root through a symlink", func(t *testing.T) {
		real := t.TempDir()
		root := filepath.Join(t.TempDir(), "root")
		if err := os.Symlink(real, root); err != nil {
			t.Fatal(err)
		}
		testFailedStarts(t, root, real)
	})
}

// testFailedStarts makes starts fail every way it can under root (real
// is where it leads) and checks that each leaves nothing behind.
func testFailedStarts(t *testing.T, root, real string) {
	state := t.TempDir()
	rt, err := runtime.Open(root, state)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	injected := errors.New("injected failure")
	// Through a symlink, libcontainer may refuse the root file system
	// before a later step is reached: that is one more failure to undo.
	exact := root == real

	type failure struct {
		name  string
		spec  func() runtime.Spec
		fault string // the step after which start fails, if any
		check func(t *testing.T, err error)
	}
	var cases []failure
	for _, step := range runtime.StartSteps {
		cases = append(cases, failure{"after " + step, func() runtime.Spec { return busyboxSpec(t, "sleep", "100") }, step,
			func(t *testing.T, err error) {
				if !errors.Is(err, injected) && (exact || err == nil) {
					t.Errorf("start failed with %v, not the injected failure", err)
				}
			}})
	}
	cases = append(cases,
		failure{"missing command", func() runtime.Spec { return busyboxSpec(t, "no-such-command") }, "",
			func(t *testing.T, err error) {
				if err == nil || (exact && !strings.Contains(err.Error(), "on its PATH?")) {
					t.Errorf("a missing command: %v, without the hint at PATH", err)
				}
			}},
		// What a reboot did to a container before its namespace was
		// restored: not a missing command, so no hint at one.
		failure{"missing network namespace", func() runtime.Spec {
			s := busyboxSpec(t, "sleep", "100")
			s.Network, s.NetNS = runtime.NetworkPath, filepath.Join(state, "netns", s.ID)
			return s
		}, "", func(t *testing.T, err error) {
			if err == nil || strings.Contains(err.Error(), "PATH") {
				t.Errorf("a missing namespace: %v", err)
			}
		}},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != "" {
				defer runtime.FailStartAt(tc.fault, injected)()
			}
			info, err := rt.Create(ctx, tc.spec())
			if err != nil {
				t.Fatal(err)
			}
			_, err = rt.Run(ctx, info.ID, runtime.Stdio{})
			tc.check(t, err)
			// Nothing of the run is left: no mount, no cgroup, no
			// libcontainer state.
			checkNothingLeft(t, real, nil)
			checkNothingLeft(t, state, nil)
			if _, err := os.Stat(filepath.Join(state, "runc", info.ID)); err == nil {
				t.Errorf("libcontainer state of %s left", info.ID)
			}
			noCgroup(t, info.ID)
			if err := rt.Remove(ctx, info.ID, false); err != nil {
				t.Fatalf("removing the container: %v", err)
			}
			for _, suffix := range []string{"", ".removing", ".creating"} {
				if _, err := os.Lstat(filepath.Join(real, "containers", info.ID+suffix)); err == nil {
					t.Errorf("containers/%s%s left", info.ID, suffix)
				}
			}
		})
	}
}

func noCgroup(t *testing.T, id string) {
	t.Helper()
	for _, pattern := range []string{"/sys/fs/cgroup/*/berth/" + id, "/sys/fs/cgroup/berth/" + id} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			t.Errorf("cgroups left: %v", m)
		}
	}
}
