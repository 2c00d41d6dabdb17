package project

import (
	"slices"
	"sort"
)

// servicePlan is what `up` does to one service's containers.
type servicePlan struct {
	Create   []int       // replica numbers to create
	Recreate []container // to replace with a new container of the same number
	Start    []container // exist, stopped, unchanged
	Keep     []container // exist, unchanged (running or not)
	Remove   []container // replicas above the wanted scale
	Restart  []container // running, to be stopped and started again
}

// withRestartAll turns every kept running container into a restart, for a
// service whose `restart: true` dependency was recreated: compose restarts
// such a service, it does not recreate it.
func (sp servicePlan) withRestartAll() servicePlan {
	var keep []container
	for _, c := range sp.Keep {
		if c.running() {
			sp.Restart = append(sp.Restart, c)
		} else {
			keep = append(keep, c)
		}
	}
	sp.Keep = keep
	return sp
}

// upPlan is `up`'s plan for the whole project.
type upPlan struct {
	Services map[string]servicePlan
	Orphans  []container // containers whose service is no longer in the project
}

// planInput is what reconcile needs to know of each selected service.
type planInput struct {
	Scale   int
	Hash    string // config hash the container would get now
	ImageID string // image the container would run now
	// Force recreates the service's containers, changed or not (a
	// dependency with --always-recreate-deps), unless NoRecreate.
	Force bool
}

// reconcileOptions are the flags of `up` that change the plan.
type reconcileOptions struct {
	ForceRecreate bool
	NoRecreate    bool
}

// reconcile is the plan as a pure function of the wanted services and the
// observed containers: it creates missing replicas, recreates containers
// whose configuration or image changed (all of them with ForceRecreate,
// those of a service marked Force too, none with NoRecreate), starts stopped ones, scales down from the highest
// number, and finds orphans. One-off containers are never touched.
func reconcile(want map[string]planInput, allServices map[string]bool, observed []container, opts reconcileOptions) upPlan {
	plan := upPlan{Services: map[string]servicePlan{}}
	byService := map[string][]container{}
	for _, c := range observed {
		if c.Oneoff {
			continue
		}
		if !allServices[c.Service] {
			plan.Orphans = append(plan.Orphans, c)
			continue
		}
		byService[c.Service] = append(byService[c.Service], c)
	}
	for name, in := range want {
		var sp servicePlan
		cs := byService[name]
		sort.Slice(cs, func(i, j int) bool { return cs[i].Number < cs[j].Number })
		have := map[int]bool{}
		for _, c := range cs {
			if c.Number > in.Scale || have[c.Number] {
				// Above the wanted scale, or a duplicate number left by a
				// crash: goes.
				sp.Remove = append(sp.Remove, c)
				continue
			}
			have[c.Number] = true
			changed := c.Labels[LabelConfigHash] != in.Hash || (in.ImageID != "" && c.Labels[LabelImageID] != in.ImageID)
			switch {
			case opts.NoRecreate:
				if c.running() {
					sp.Keep = append(sp.Keep, c)
				} else {
					sp.Start = append(sp.Start, c)
				}
			case opts.ForceRecreate || in.Force || changed:
				sp.Recreate = append(sp.Recreate, c)
			case c.running():
				sp.Keep = append(sp.Keep, c)
			default:
				sp.Start = append(sp.Start, c)
			}
		}
		// Scale down from the highest number.
		sort.Slice(sp.Remove, func(i, j int) bool { return sp.Remove[i].Number > sp.Remove[j].Number })
		for n := 1; n <= in.Scale; n++ {
			if !have[n] {
				sp.Create = append(sp.Create, n)
			}
		}
		plan.Services[name] = sp
	}
	return plan
}

// plan computes up's plan for the selected services.
func (e *Engine) plan(p *Project, selected []string, images map[string]*serviceImage, observed []container, opts UpOptions) upPlan {
	want := map[string]planInput{}
	for _, name := range selected {
		s := p.Services[name]
		scale := s.GetScale()
		if n, ok := opts.Scale[name]; ok {
			scale = n
		}
		hash, _ := ConfigHash(s)
		in := planInput{Scale: scale, Hash: hash}
		// The services named are the ones up was asked for; the others
		// were selected as their dependencies.
		in.Force = opts.AlwaysRecreateDeps && len(opts.Services) > 0 && !slices.Contains(opts.Services, name)
		if img := images[name]; img != nil {
			in.ImageID = img.Image.ID
		}
		want[name] = in
	}
	all := map[string]bool{}
	for _, n := range p.ServiceNames() {
		all[n] = true
	}
	return reconcile(want, all, observed, reconcileOptions{ForceRecreate: opts.ForceRecreate, NoRecreate: opts.NoRecreate})
}
