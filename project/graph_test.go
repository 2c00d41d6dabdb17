package project

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/berthdev/berth/runtime"
	"github.com/compose-spec/compose-go/v2/types"
)

// Regression: with no compose file (`-p NAME down`), every container was
// both in a level of its own service and among the services the project
// lacks, so down stopped each one twice.
func TestLevelsHoldEachContainerOnce(t *testing.T) {
	cs := []container{
		observed("web", 1, runtime.StatusRunning, "h", "i"),
		observed("db", 1, runtime.StatusRunning, "h", "i"),
		observed("gone", 1, runtime.StatusRunning, "h", "i"),
	}
	withFile := &Project{Name: "p", Services: types.Services{
		"web": {Name: "web", WorkloadSpec: types.WorkloadSpec{DependsOn: types.DependsOnConfig{"db": {Condition: types.ServiceConditionStarted}}}},
		"db":  {Name: "db"},
	}}
	for _, tc := range []struct {
		name string
		p    *Project
		want string
	}{
		{"with the compose file", withFile, "[[db1] [web1] [gone1]]"},
		{"without a compose file", &Project{Name: "p", Services: types.Services{}}, "[[web1 db1 gone1]]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [][]string
			for _, l := range levels(tc.p, cs) {
				var names []string
				for _, c := range l {
					names = append(names, c.ID)
				}
				got = append(got, names)
			}
			if s := fmt.Sprint(got); s != tc.want {
				t.Errorf("levels: %s, want %s", s, tc.want)
			}
		})
	}
}

func TestServiceLevelsOrderDependencies(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "compose.yaml", "services:\n  db:\n    image: x\n  cache:\n    image: x\n  api:\n    image: x\n    depends_on: [db, cache]\n  web:\n    image: x\n    links: [api]\n")
	p, err := load(t, dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := serviceLevels(p, []string{"api", "cache", "db", "web"})
	want := [][]string{{"cache", "db"}, {"api"}, {"web"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("levels %v, want %v", got, want)
	}
	sel, err := selectServices(p, []string{"web"}, true)
	if err != nil || !reflect.DeepEqual(sel, []string{"api", "cache", "db", "web"}) {
		t.Errorf("web with dependencies: %v %v", sel, err)
	}
	if sel, _ := selectServices(p, []string{"web"}, false); !reflect.DeepEqual(sel, []string{"web"}) {
		t.Errorf("--no-deps: %v", sel)
	}
}
