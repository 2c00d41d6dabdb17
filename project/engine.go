package project

import (
	"errors"
	"io"
	"sync"

	"github.com/berthdev/berth/links"
	"github.com/berthdev/berth/runtime"
	"github.com/berthdev/berth/runtime/image"
	"github.com/berthdev/berth/volumes"
)

// Engine carries out the verbs on one berth root: it joins the runtime,
// the image store, the builder, the networks and the volumes. Its methods
// are the verbs; how it joins them is its own business.
type Engine struct {
	runtime *runtime.Runtime
	images  *image.Store
	links   *links.Manager
	volumes *volumes.Store
	// registryConfig has the registry mirrors and insecure registries.
	registryConfig image.Config

	// BuildOutput receives what the builder prints when a verb builds a
	// service's image on the way (up, create, run, watch), each line
	// prefixed with the service's name; nil discards it. `berth build`
	// says where its own output goes (BuildOptions.Output).
	BuildOutput io.Writer

	hosts hostsRefresh
}

// NewEngine opens the runtime, image store, networks and volumes of a
// berth root, and reads the registry configuration (mirrors, insecure
// registries) from image.ConfigPath.
func NewEngine(root, state string) (*Engine, error) {
	rt, err := runtime.Open(root, state)
	if err != nil {
		return nil, err
	}
	root, state = rt.Root(), rt.State()
	imgs, err := image.Open(root)
	if err != nil {
		return nil, err
	}
	l, err := links.Open(root, state)
	if err != nil {
		return nil, err
	}
	v, err := volumes.Open(root)
	if err != nil {
		return nil, err
	}
	v.TrackContainers(rt.Exists)
	cfg, err := image.LoadConfig(image.ConfigPath())
	if err != nil {
		return nil, err
	}
	return &Engine{runtime: rt, images: imgs, links: l, volumes: v, registryConfig: cfg}, nil
}

// OpenVolumes opens the volumes of a berth root for the volume commands,
// able to tell a stale reference (to a container that never came to
// exist) from a live one.
func OpenVolumes(root, state string) (*volumes.Store, error) {
	rt, err := runtime.Open(root, state)
	if err != nil {
		return nil, err
	}
	v, err := volumes.Open(rt.Root())
	if err != nil {
		return nil, err
	}
	v.TrackContainers(rt.Exists)
	return v, nil
}

// Events receives what a verb does to each resource: ("Container p-web-1",
// "Started"). A nil Events is silent.
type Events func(resource, status string)

func (f Events) emit(resource, status string) {
	if f != nil {
		f(resource, status)
	}
}

func containerResource(name string) string { return "Container " + name }

// each runs fn on every container concurrently and joins the errors.
func each(cs []container, fn func(container) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(c)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
