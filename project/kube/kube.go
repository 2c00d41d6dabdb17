package kube

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Labels every object carries, so that `kubectl delete -l
// app.kubernetes.io/part-of=PROJECT` removes what an export made.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
)

// Service types for published ports.
const (
	NodePort     = "NodePort"
	LoadBalancer = "LoadBalancer"
)

// SizeExtension is the extension of a top-level volume that gives the
// size of its PersistentVolumeClaim: `x-berth-size: 10Gi`.
const SizeExtension = "x-berth-size"

// Defaults for Options left empty.
const (
	DefaultVolumeSize = "1Gi"
	// DefaultWaitImage runs the init containers that wait for a
	// dependency: Kubernetes' own kubectl image, of the version whose API
	// the manifests are written against.
	DefaultWaitImage = "registry.k8s.io/kubectl:v1.37.2"
)

// ErrStrict means the export was asked to be strict and compose said
// things Kubernetes cannot express; the Warnings name them.
var ErrStrict = errors.New("the project uses what Kubernetes cannot express (--strict)")

// Options say what to export and how.
type Options struct {
	// Services are the services to export, all when empty. The caller
	// adds their dependencies.
	Services []string
	// Registry is where images built by berth are pushed and pulled from
	// by the cluster: "registry.example.com:5000/team".
	Registry string
	// ServiceType is NodePort (default) or LoadBalancer, for published
	// ports.
	ServiceType string
	// VolumeSize is the size of a claim whose volume has no x-berth-size.
	VolumeSize string
	// WaitImage runs the init containers that wait for a dependency; its
	// entrypoint is kubectl.
	WaitImage string
}

// Warning is something of the compose project that the manifests do not
// carry, or carry differently: it names the service (empty for a
// top-level key) and the field.
type Warning struct {
	Service string
	Field   string
	Msg     string
}

func (w Warning) String() string {
	var b strings.Builder
	if w.Service != "" {
		fmt.Fprintf(&b, "service %q: ", w.Service)
	}
	if w.Field != "" {
		b.WriteString(w.Field + ": ")
	}
	b.WriteString(w.Msg)
	return b.String()
}

// Error makes a Warning an error under --strict.
func (w Warning) Error() string { return w.String() }

// Image is an image berth builds for a service, and the name the cluster
// pulls it by.
type Image struct {
	Service string
	Local   string // its name in berth's image store
	Remote  string // the name in the manifests, under Options.Registry
}

// Object is one manifest.
type Object struct {
	Kind string
	Name string
	// Object is one of this package's API types: *Deployment,
	// *Service, ...
	Object any
}

// Export is what a project becomes.
type Export struct {
	Objects []Object
	// Warnings are what compose says that the manifests leave out or
	// change.
	Warnings []Warning
	// Notes say how each bind mount was carried over.
	Notes []Warning
	// Images are the services' images that berth builds: --push pushes
	// each Local to its Remote.
	Images []Image
}

// StrictError returns ErrStrict joined with every warning, or nil when
// there is none.
func (x *Export) StrictError() error {
	if len(x.Warnings) == 0 {
		return nil
	}
	errs := []error{ErrStrict}
	for _, w := range x.Warnings {
		errs = append(errs, w)
	}
	return errors.Join(errs...)
}

// kindOrder is the order objects are written in: what others refer to
// first, so that a single `kubectl apply -f` of the stream creates each
// object after what it needs.
var kindOrder = map[string]int{
	"ServiceAccount": 0, "Role": 1, "RoleBinding": 2, "Secret": 3, "ConfigMap": 4,
	"PersistentVolumeClaim": 5, "Service": 6, "Deployment": 7, "StatefulSet": 8, "Job": 9,
}

// converter carries one conversion's state.
type converter struct {
	p        *types.Project
	opts     Options
	services []string // exported, sorted
	names    map[string]string
	x        *Export
	taken    map[string]bool // kind/name of every object made
	// made are the Secrets and ConfigMaps of secrets and configs made (or,
	// external, referred to) so far, by kind/name.
	made map[string]bool
	// pv are the pod volume names of each service.
	pv map[string]podVolumes
	// claimUses counts the pods that mount each named volume;
	// claimServices lists their services.
	claimUses     map[string]int
	claimServices map[string][]string
	// portsOf caches ports().
	portsOf map[string][]portProto
	// waiters says whether a pod waits for another service.
	waiters bool
}

// Convert turns the project into manifests. An error is a mistake in the
// options or the project that leaves nothing sensible to write; what
// Kubernetes cannot express is a Warning.
func Convert(p *types.Project, opts Options) (*Export, error) {
	switch {
	case opts.ServiceType == "" || strings.EqualFold(opts.ServiceType, NodePort):
		opts.ServiceType = NodePort
	case strings.EqualFold(opts.ServiceType, LoadBalancer):
		opts.ServiceType = LoadBalancer
	default:
		return nil, fmt.Errorf("service type %q: want %s or %s", opts.ServiceType, NodePort, LoadBalancer)
	}
	if opts.VolumeSize == "" {
		opts.VolumeSize = DefaultVolumeSize
	}
	if err := positiveQuantity(opts.VolumeSize); err != nil {
		return nil, fmt.Errorf("volume size: %w", err)
	}
	if opts.WaitImage == "" {
		opts.WaitImage = DefaultWaitImage
	}
	c := &converter{
		p: p, opts: opts, x: &Export{}, names: map[string]string{},
		taken: map[string]bool{}, made: map[string]bool{}, pv: map[string]podVolumes{},
		claimUses: map[string]int{}, claimServices: map[string][]string{},
		portsOf: map[string][]portProto{},
	}
	c.services = opts.Services
	if len(c.services) == 0 {
		c.services = p.ServiceNames()
	}
	c.services = append([]string(nil), c.services...)
	sort.Strings(c.services)
	if err := c.nameServices(); err != nil {
		return nil, err
	}
	for _, name := range c.services {
		if _, ok := p.Services[name]; !ok {
			return nil, fmt.Errorf("no service %q in the project", name)
		}
	}
	if err := c.fileObjects(); err != nil {
		return nil, err
	}
	for _, name := range c.services {
		if err := c.service(p.Services[name]); err != nil {
			return nil, fmt.Errorf("service %q: %w", name, err)
		}
	}
	if err := c.aliases(); err != nil {
		return nil, err
	}
	if err := c.claims(); err != nil {
		return nil, err
	}
	if c.waiters {
		if err := c.waitRBAC(); err != nil {
			return nil, err
		}
	}
	if err := c.projectFields(); err != nil {
		return nil, err
	}
	for _, list := range [][]Warning{c.x.Warnings, c.x.Notes} {
		sort.SliceStable(list, func(i, j int) bool {
			if list[i].Service != list[j].Service {
				return list[i].Service < list[j].Service
			}
			return list[i].Field < list[j].Field
		})
	}
	sort.SliceStable(c.x.Objects, func(i, j int) bool {
		a, b := c.x.Objects[i], c.x.Objects[j]
		if kindOrder[a.Kind] != kindOrder[b.Kind] {
			return kindOrder[a.Kind] < kindOrder[b.Kind]
		}
		return a.Name < b.Name
	})
	return c.x, nil
}

// warn records what the manifests leave out or change.
func (c *converter) warn(service, field, format string, args ...any) {
	c.x.Warnings = append(c.x.Warnings, Warning{Service: service, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *converter) note(service, field, format string, args ...any) {
	c.x.Notes = append(c.x.Notes, Warning{Service: service, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// add records an object; two objects of one kind and name are a conflict
// the caller must resolve before.
func (c *converter) add(kind, name string, obj any) error {
	key := kind + "/" + name
	if c.taken[key] {
		return fmt.Errorf("two %ss would be named %q", kind, name)
	}
	c.taken[key] = true
	c.x.Objects = append(c.x.Objects, Object{Kind: kind, Name: name, Object: obj})
	return nil
}

// nameServices gives each exported service its Kubernetes name: the
// compose name where it is a DNS label already, else the nearest one.
func (c *converter) nameServices() error {
	owner := map[string]string{}
	for _, n := range c.services {
		k := dnsLabel(n)
		if k == "" {
			return fmt.Errorf("service %q: no letters or digits to make a Kubernetes name of", n)
		}
		if o, ok := owner[k]; ok {
			return fmt.Errorf("services %q and %q would both be named %q in Kubernetes", o, n, k)
		}
		owner[k] = n
		c.names[n] = k
		if k != n {
			c.warn(n, "name", "Kubernetes names must be DNS labels: it is %q there, and other services reach it by that name", k)
		}
	}
	return nil
}

// meta is the metadata of an object of a service (service empty: of the
// project).
func (c *converter) meta(name, service string) ObjectMeta {
	return ObjectMeta{Name: name, Labels: c.labels(service)}
}

func (c *converter) labels(service string) map[string]string {
	l := map[string]string{
		LabelPartOf:    labelValue(c.p.Name),
		LabelManagedBy: "berth",
	}
	if service != "" {
		l[LabelName] = c.names[service]
	}
	return l
}

// selector picks a service's pods.
func (c *converter) selector(service string) map[string]string {
	return map[string]string{LabelPartOf: labelValue(c.p.Name), LabelName: c.names[service]}
}

// dnsLabel is the nearest RFC 1123 label to s: lower case, anything
// else than letters and digits a dash, at most 63 characters.
func dnsLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	return out
}

// labelValue is s as a label value: compose project names may end in an
// underscore or a dash, label values may not.
func labelValue(s string) string {
	out := strings.TrimRight(s, "-_.")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-_.")
	}
	return out
}

// isDNSLabel says whether s is a valid RFC 1123 label as it is.
func isDNSLabel(s string) bool {
	return s != "" && dnsLabel(s) == s
}
