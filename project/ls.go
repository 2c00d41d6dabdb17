package project

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/berthdev/berth/runtime"
)

// ProjectSummary is one line of `berth ls`.
type ProjectSummary struct {
	Name string `json:"Name"`
	// Status counts the project's containers by state: "running(2),
	// exited(1)".
	Status      string `json:"Status"`
	ConfigFiles string `json:"ConfigFiles"`
}

// ListProjects lists the projects that have containers in this root, by
// name: those with a running container, or with all every one.
func (e *Engine) ListProjects(ctx context.Context, all bool) ([]ProjectSummary, error) {
	infos, err := e.runtime.List(ctx)
	if err != nil {
		return nil, err
	}
	counts := map[string]map[runtime.Status]int{}
	files := map[string]string{}
	for _, i := range infos {
		pn := i.Labels[LabelProject]
		if pn == "" {
			continue
		}
		if counts[pn] == nil {
			counts[pn] = map[runtime.Status]int{}
		}
		counts[pn][i.Status]++
		files[pn] = i.Labels[LabelFiles]
	}
	var out []ProjectSummary
	for pn, c := range counts {
		if c[runtime.StatusRunning] == 0 && !all {
			continue
		}
		var parts []string
		for _, st := range []runtime.Status{runtime.StatusRunning, runtime.StatusPaused, runtime.StatusRestarting, runtime.StatusExited, runtime.StatusCreated} {
			if c[st] > 0 {
				parts = append(parts, fmt.Sprintf("%s(%d)", st, c[st]))
			}
		}
		out = append(out, ProjectSummary{Name: pn, Status: strings.Join(parts, ", "), ConfigFiles: files[pn]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
