package project

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/berthdev/berth/runtime"
	"github.com/compose-spec/compose-go/v2/types"
)

func observed(service string, n int, status runtime.Status, hash, imageID string) container {
	return container{
		Info: runtime.Info{
			ID: service + strconv.Itoa(n), Name: service + "-" + strconv.Itoa(n), Status: status,
			Labels: map[string]string{LabelConfigHash: hash, LabelImageID: imageID, LabelService: service},
		},
		Service: service, Number: n,
	}
}

func ids(cs []container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	sort.Strings(out)
	return out
}

func TestReconcile(t *testing.T) {
	run, exited := runtime.StatusRunning, runtime.StatusExited
	for _, tc := range []struct {
		name     string
		want     map[string]planInput
		all      []string
		observed []container
		opts     reconcileOptions
		// expectations for service "web"
		create, recreate, start, keep, remove []string
		orphans                               []string
	}{
		{
			name:   "nothing exists: create every replica",
			want:   map[string]planInput{"web": {Scale: 2, Hash: "h1", ImageID: "i1"}},
			all:    []string{"web"},
			create: []string{"1", "2"},
		},
		{
			name:     "unchanged and running: leave alone",
			want:     map[string]planInput{"web": {Scale: 1, Hash: "h1", ImageID: "i1"}},
			all:      []string{"web"},
			observed: []container{observed("web", 1, run, "h1", "i1")},
			keep:     []string{"web1"},
		},
		{
			name:     "unchanged and stopped: start",
			want:     map[string]planInput{"web": {Scale: 1, Hash: "h1", ImageID: "i1"}},
			all:      []string{"web"},
			observed: []container{observed("web", 1, exited, "h1", "i1")},
			start:    []string{"web1"},
		},
		{
			name:     "config changed: recreate",
			want:     map[string]planInput{"web": {Scale: 1, Hash: "h2", ImageID: "i1"}},
			all:      []string{"web"},
			observed: []container{observed("web", 1, run, "h1", "i1")},
			recreate: []string{"web1"},
		},
		{
			name:     "image changed: recreate",
			want:     map[string]planInput{"web": {Scale: 1, Hash: "h1", ImageID: "i2"}},
			all:      []string{"web"},
			observed: []container{observed("web", 1, run, "h1", "i1")},
			recreate: []string{"web1"},
		},
		{
			name:     "force recreate",
			want:     map[string]planInput{"web": {Scale: 1, Hash: "h1", ImageID: "i1"}},
			all:      []string{"web"},
			observed: []container{observed("web", 1, run, "h1", "i1")},
			opts:     reconcileOptions{ForceRecreate: true},
			recreate: []string{"web1"},
		},
		{
			name:     "a forced service is recreated unchanged",
			want:     map[string]planInput{"web": {Scale: 1, Hash: "h1", ImageID: "i1", Force: true}},
			all:      []string{"web"},
			observed: []container{observed("web", 1, run, "h1", "i1")},
			recreate: []string{"web1"},
		},
		{
			name:     "no recreate wins over force",
			want:     map[string]planInput{"web": {Scale: 1, Hash: "h1", ImageID: "i1", Force: true}},
			all:      []string{"web"},
			observed: []container{observed("web", 1, run, "h1", "i1")},
			opts:     reconcileOptions{NoRecreate: true},
			keep:     []string{"web1"},
		},
		{
			name:     "no recreate keeps a changed container",
			want:     map[string]planInput{"web": {Scale: 1, Hash: "h2", ImageID: "i1"}},
			all:      []string{"web"},
			observed: []container{observed("web", 1, run, "h1", "i1")},
			opts:     reconcileOptions{NoRecreate: true},
			keep:     []string{"web1"},
		},
		{
			name:     "scale down from the highest number",
			want:     map[string]planInput{"web": {Scale: 1, Hash: "h1", ImageID: "i1"}},
			all:      []string{"web"},
			observed: []container{observed("web", 1, run, "h1", "i1"), observed("web", 2, run, "h1", "i1"), observed("web", 3, run, "h1", "i1")},
			keep:     []string{"web1"},
			remove:   []string{"web2", "web3"},
		},
		{
			name:     "scale up fills the missing numbers",
			want:     map[string]planInput{"web": {Scale: 3, Hash: "h1", ImageID: "i1"}},
			all:      []string{"web"},
			observed: []container{observed("web", 2, run, "h1", "i1")},
			create:   []string{"1", "3"},
			keep:     []string{"web2"},
		},
		{
			name:     "containers of a removed service are orphans",
			want:     map[string]planInput{"web": {Scale: 1, Hash: "h1", ImageID: "i1"}},
			all:      []string{"web"},
			observed: []container{observed("web", 1, run, "h1", "i1"), observed("old", 1, run, "x", "y")},
			keep:     []string{"web1"},
			orphans:  []string{"old1"},
		},
		{
			name: "one-off containers are never touched",
			want: map[string]planInput{"web": {Scale: 1, Hash: "h1", ImageID: "i1"}},
			all:  []string{"web"},
			observed: []container{func() container {
				c := observed("web", 1, run, "zz", "i1")
				c.Oneoff = true
				return c
			}()},
			create: []string{"1"},
		},
		{
			name:     "a service not selected is neither planned nor orphaned",
			want:     map[string]planInput{"web": {Scale: 1, Hash: "h1", ImageID: "i1"}},
			all:      []string{"web", "db"},
			observed: []container{observed("web", 1, run, "h1", "i1"), observed("db", 1, run, "d", "i")},
			keep:     []string{"web1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := map[string]bool{}
			for _, s := range tc.all {
				all[s] = true
			}
			plan := reconcile(tc.want, all, tc.observed, tc.opts)
			sp := plan.Services["web"]
			var create []string
			for _, n := range sp.Create {
				create = append(create, strconv.Itoa(n))
			}
			check := func(what string, got, want []string) {
				t.Helper()
				if len(got) != len(want) {
					t.Errorf("%s: got %v, want %v", what, got, want)
					return
				}
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("%s: got %v, want %v", what, got, want)
						return
					}
				}
			}
			check("create", create, tc.create)
			check("recreate", ids(sp.Recreate), tc.recreate)
			check("start", ids(sp.Start), tc.start)
			check("keep", ids(sp.Keep), tc.keep)
			check("remove", ids(sp.Remove), tc.remove)
			check("orphans", ids(plan.Orphans), tc.orphans)
			if _, planned := plan.Services["db"]; planned {
				t.Error("an unselected service was planned")
			}
		})
	}
}

// TestPlanAlwaysRecreateDeps: --always-recreate-deps recreates the
// dependencies of the services named, unchanged or not, and leaves the
// named ones to their own changes; with no service named, every service
// is named and nothing is forced.
func TestPlanAlwaysRecreateDeps(t *testing.T) {
	web := types.ServiceConfig{Name: "web"}
	web.DependsOn = types.DependsOnConfig{"db": {Condition: "service_started", Required: true}}
	p := &Project{Name: "p", Services: types.Services{"web": web, "db": {Name: "db"}}}
	var obs []container
	for _, name := range []string{"web", "db"} {
		hash, _ := ConfigHash(p.Services[name])
		obs = append(obs, observed(name, 1, runtime.StatusRunning, hash, ""))
	}
	selected := []string{"db", "web"}
	for _, tc := range []struct {
		name     string
		opts     UpOptions
		recreate []string
	}{
		{"named web", UpOptions{Services: []string{"web"}, AlwaysRecreateDeps: true}, []string{"db"}},
		{"named web, without the flag", UpOptions{Services: []string{"web"}}, nil},
		{"none named", UpOptions{AlwaysRecreateDeps: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := (&Engine{}).plan(p, selected, nil, obs, tc.opts)
			var got []string
			for _, name := range selected {
				if len(plan.Services[name].Recreate) > 0 {
					got = append(got, name)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.recreate, ",") {
				t.Errorf("recreated %v, want %v", got, tc.recreate)
			}
		})
	}
}
