package kube

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// service converts one service: its workload, its Services, its claims'
// uses, and a warning for each field left out.
func (c *converter) service(s types.ServiceConfig) error {
	name := c.names[s.Name]
	pod, err := c.podSpec(s)
	if err != nil {
		return err
	}
	tmpl := PodTemplateSpec{
		ObjectMeta: ObjectMeta{Labels: c.labels(s.Name), Annotations: c.annotations(s)},
		Spec:       pod,
	}
	replicas := int32(s.GetScale())
	restart, retries := restartPolicy(s)
	selector := &LabelSelector{MatchLabels: c.selector(s.Name)}
	switch {
	case c.isJob(s.Name):
		job := &Job{
			TypeMeta:   TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
			ObjectMeta: c.meta(name, s.Name),
			Spec:       JobSpec{Template: tmpl, Completions: &replicas, Parallelism: &replicas},
		}
		// compose's "no" runs the container once; on-failure:N retries it
		// N times; on-failure retries it without end, which a Job cannot.
		pol, backoff := "Never", ptr(int32(0))
		switch restart {
		case "", "no", "none":
		case "on-failure":
			pol = "OnFailure"
			if retries == nil {
				backoff = nil
				c.warn(s.Name, "restart", "on-failure retries without end; a Job gives up after the cluster's default of 6 retries")
			} else {
				*backoff = int32(min(*retries, math.MaxInt32))
			}
		default:
			pol, backoff = "OnFailure", nil
			c.warn(s.Name, "restart", "%s: others wait for it to complete (service_completed_successfully), so it is a Job, whose pod is not started again once it succeeds", restart)
		}
		job.Spec.BackoffLimit = backoff
		job.Spec.Template.Spec.RestartPolicy = pol
		if err := c.add("Job", name, job); err != nil {
			return err
		}
	case c.hasNamedVolume(s):
		c.restartWarning(s, restart)
		set := &StatefulSet{
			TypeMeta:   TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
			ObjectMeta: c.meta(name, s.Name),
			Spec: StatefulSetSpec{
				Replicas: &replicas, Selector: selector, Template: tmpl, ServiceName: name,
			},
		}
		if err := c.add("StatefulSet", name, set); err != nil {
			return err
		}
	default:
		c.restartWarning(s, restart)
		d := &Deployment{
			TypeMeta:   TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: c.meta(name, s.Name),
			Spec:       DeploymentSpec{Replicas: &replicas, Selector: selector, Template: tmpl},
		}
		if err := c.add("Deployment", name, d); err != nil {
			return err
		}
	}
	if err := c.network(s); err != nil {
		return err
	}
	return c.unmapped(s)
}

// isJob says whether another exported service waits for service to
// complete.
func (c *converter) isJob(service string) bool {
	for _, n := range c.services {
		if d, ok := c.p.Services[n].DependsOn[service]; ok && d.Condition == types.ServiceConditionCompletedSuccessfully {
			return true
		}
	}
	return false
}

func (c *converter) hasNamedVolume(s types.ServiceConfig) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source != "" {
			return true
		}
	}
	return false
}

// kindOf is the workload kind a service becomes.
func (c *converter) kindOf(service string) string {
	switch {
	case c.isJob(service):
		return "Job"
	case c.hasNamedVolume(c.p.Services[service]):
		return "StatefulSet"
	}
	return "Deployment"
}

// restartPolicy reads restart: or deploy.restart_policy: the policy
// (no, always, on-failure, unless-stopped; swarm's none and any) and the
// retries of on-failure, nil when unbounded.
func restartPolicy(s types.ServiceConfig) (string, *uint64) {
	if s.Restart != "" {
		policy, n, ok := strings.Cut(s.Restart, ":")
		if ok {
			if v, err := strconv.ParseUint(n, 10, 64); err == nil {
				return policy, &v
			}
		}
		return policy, nil
	}
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		rp := s.Deploy.RestartPolicy
		return rp.Condition, rp.MaxAttempts
	}
	return "", nil
}

// restartWarning: a Deployment's or StatefulSet's pods always restart.
func (c *converter) restartWarning(s types.ServiceConfig, restart string) {
	switch restart {
	case "no", "none", "on-failure":
		field := "restart"
		if s.Restart == "" {
			field = "deploy.restart_policy"
		}
		c.warn(s.Name, field, "%s: the containers of a Deployment or StatefulSet are always restarted", restart)
	}
}

// podSpec is everything of a service that runs in its pods.
func (c *converter) podSpec(s types.ServiceConfig) (PodSpec, error) {
	name := c.names[s.Name]
	ctr := Container{
		Name:       name,
		Image:      c.image(s),
		WorkingDir: s.WorkingDir,
		TTY:        s.Tty,
		Stdin:      s.StdinOpen,
	}
	switch s.PullPolicy {
	case types.PullPolicyAlways:
		ctr.ImagePullPolicy = "Always"
	case types.PullPolicyNever:
		ctr.ImagePullPolicy = "Never"
	case types.PullPolicyMissing, types.PullPolicyIfNotPresent, types.PullPolicyBuild:
		ctr.ImagePullPolicy = "IfNotPresent"
	case "":
	default:
		c.warn(s.Name, "pull_policy", "%q has no Kubernetes equivalent; the cluster's default applies", s.PullPolicy)
	}
	c.command(s, &ctr)
	c.env(s, &ctr)
	c.containerPorts(s, &ctr)
	c.resources(s, &ctr)
	c.probes(s, &ctr)
	pod := PodSpec{}
	c.security(s, &ctr, &pod)
	c.host(s, &pod)
	if err := c.mounts(s, &pod, &ctr); err != nil {
		return pod, err
	}
	if err := c.files(s, &pod, &ctr); err != nil {
		return pod, err
	}
	c.waits(s, &pod)
	if s.StopGracePeriod != nil {
		secs := int64(math.Ceil(time.Duration(*s.StopGracePeriod).Seconds()))
		pod.TerminationGracePeriodSeconds = &secs
	}
	pod.Containers = []Container{ctr}
	return pod, nil
}

// image is the name the cluster pulls the service's image by: image:, or
// for an image berth builds, its name under --registry.
func (c *converter) image(s types.ServiceConfig) string {
	local := s.Image
	if local == "" {
		local = c.p.Name + "-" + s.Name
	}
	if s.Build == nil {
		return local
	}
	if c.opts.Registry == "" {
		c.warn(s.Name, "build", "the image %s is built by berth and is in no registry the cluster can pull from: give --registry (and --push)", local)
		c.x.Images = append(c.x.Images, Image{Service: s.Name, Local: local, Remote: local})
		return local
	}
	remote := strings.TrimSuffix(c.opts.Registry, "/") + "/" + repositoryPath(local)
	c.x.Images = append(c.x.Images, Image{Service: s.Name, Local: local, Remote: remote})
	return remote
}

// repositoryPath is an image name without its registry, with its tag or
// digest: "ghcr.io/org/app:1" → "org/app:1", "web" → "web:latest".
func repositoryPath(ref string) string {
	rest := ref
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		host := ref[:i]
		if strings.ContainsAny(host, ".:") || host == "localhost" {
			rest = ref[i+1:]
		}
	}
	rest = strings.TrimPrefix(rest, "library/")
	last := rest[strings.LastIndexByte(rest, '/')+1:]
	if !strings.ContainsAny(last, ":@") {
		rest += ":latest"
	}
	return rest
}

// command: compose's entrypoint is Kubernetes' command, compose's command
// its args. Kubernetes expands $(VAR) in both, compose does not: each $
// that would start an expansion is escaped.
func (c *converter) command(s types.ServiceConfig, ctr *Container) {
	if s.Entrypoint != nil {
		if len(s.Entrypoint) == 0 {
			c.warn(s.Name, "entrypoint", "an empty entrypoint clears the image's; Kubernetes cannot say that, and the image's entrypoint runs")
		}
		ctr.Command = escapeAll(s.Entrypoint)
	}
	if s.Command != nil {
		if len(s.Command) == 0 && s.Entrypoint == nil {
			c.warn(s.Name, "command", "an empty command clears the image's; Kubernetes cannot say that, and the image's command runs")
		}
		ctr.Args = escapeAll(s.Command)
	}
}

func escapeAll(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = escapeExpansion(s)
	}
	return out
}

// escapeExpansion keeps s from Kubernetes' $(VAR) expansion: $$ stands
// for $ where it is followed by $ or (.
func escapeExpansion(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && (s[i+1] == '$' || s[i+1] == '(') {
			b.WriteByte('$')
		}
	}
	return b.String()
}

// env is environment: with env_file's variables, which loading merged
// into it. A variable without a value is unset in compose, and left out.
func (c *converter) env(s types.ServiceConfig, ctr *Container) {
	keys := make([]string, 0, len(s.Environment))
	for k, v := range s.Environment {
		if v != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		ctr.Env = append(ctr.Env, EnvVar{Name: k, Value: escapeExpansion(*s.Environment[k])})
	}
}

// resources: limits from deploy.resources.limits or mem_limit and cpus,
// requests from deploy.resources.reservations or mem_reservation.
func (c *converter) resources(s types.ServiceConfig, ctr *Container) {
	limits, requests := map[string]string{}, map[string]string{}
	mem, memReq := int64(s.MemLimit), int64(s.MemReservation)
	cpus := float64(s.CPUS)
	var reqCPUs float64
	if s.Deploy != nil {
		if l := s.Deploy.Resources.Limits; l != nil {
			if l.MemoryBytes > 0 {
				mem = int64(l.MemoryBytes)
			}
			if l.NanoCPUs > 0 {
				cpus = float64(l.NanoCPUs)
			}
			c.resourceWarnings(s.Name, "deploy.resources.limits", l)
		}
		if r := s.Deploy.Resources.Reservations; r != nil {
			if r.MemoryBytes > 0 {
				memReq = int64(r.MemoryBytes)
			}
			if r.NanoCPUs > 0 {
				reqCPUs = float64(r.NanoCPUs)
			}
			c.resourceWarnings(s.Name, "deploy.resources.reservations", r)
		}
	}
	if mem > 0 {
		limits["memory"] = binarySI(mem)
	}
	if memReq > 0 {
		requests["memory"] = binarySI(memReq)
	}
	if cpus > 0 {
		limits["cpu"] = milli(milliCPUs(cpus))
	}
	if reqCPUs > 0 {
		requests["cpu"] = milli(milliCPUs(reqCPUs))
	}
	if len(limits) > 0 || len(requests) > 0 {
		ctr.Resources = &ResourceRequirements{}
	}
	if len(limits) > 0 {
		ctr.Resources.Limits = limits
	}
	if len(requests) > 0 {
		ctr.Resources.Requests = requests
	}
}

func milliCPUs(cpus float64) int64 {
	return max(1, int64(math.Round(cpus*1000)))
}

func (c *converter) resourceWarnings(service, field string, r *types.Resource) {
	if r.Pids > 0 {
		c.warn(service, field+".pids", "Kubernetes limits processes per node (the kubelet's podPidsLimit), not per container")
	}
	if len(r.Devices) > 0 {
		c.warn(service, field+".devices", "device requests need a device plugin's resource name; left out")
	}
	if len(r.GenericResources) > 0 {
		c.warn(service, field+".generic_resources", "generic resources need an extended resource name; left out")
	}
}

// probes: the healthcheck is the readiness probe (a service that is not
// healthy takes no traffic, and those waiting for it wait) and the
// liveness probe; start_period becomes a startup probe. Kubernetes counts
// whole seconds: shorter durations are rounded up.
func (c *converter) probes(s types.ServiceConfig, ctr *Container) {
	hc := s.HealthCheck
	if hc == nil || hc.Disable || len(hc.Test) == 0 {
		return
	}
	var cmd []string
	switch hc.Test[0] {
	case "NONE":
		return
	case "CMD":
		cmd = append(cmd, hc.Test[1:]...)
	case "CMD-SHELL":
		cmd = []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
	default:
		cmd = []string{"/bin/sh", "-c", strings.Join(hc.Test, " ")}
	}
	dur := func(d *types.Duration, def time.Duration) int32 {
		v := def
		if d != nil && *d > 0 {
			v = time.Duration(*d)
		}
		return int32(max(1, math.Ceil(v.Seconds())))
	}
	retries := int32(3)
	if hc.Retries != nil {
		retries = int32(max(1, min(*hc.Retries, math.MaxInt32)))
	}
	probe := func() *Probe {
		return &Probe{
			Exec:             &ExecAction{Command: cmd},
			PeriodSeconds:    dur(hc.Interval, 30*time.Second),
			TimeoutSeconds:   dur(hc.Timeout, 30*time.Second),
			FailureThreshold: retries,
		}
	}
	ctr.ReadinessProbe = probe()
	ctr.LivenessProbe = probe()
	if hc.StartPeriod != nil && *hc.StartPeriod > 0 {
		sp := probe()
		sp.PeriodSeconds = dur(hc.StartInterval, 5*time.Second)
		start := time.Duration(*hc.StartPeriod).Seconds()
		sp.FailureThreshold = int32(math.Ceil(start/float64(sp.PeriodSeconds))) + retries
		ctr.StartupProbe = sp
	}
}

// security: the container's capabilities, user, read-only root and
// privileges; the pod's groups and sysctls.
func (c *converter) security(s types.ServiceConfig, ctr *Container, pod *PodSpec) {
	sc := &SecurityContext{}
	set := false
	caps := func(list []string) []string {
		var out []string
		for _, cp := range list {
			out = append(out, strings.TrimPrefix(strings.ToUpper(cp), "CAP_"))
		}
		return out
	}
	if len(s.CapAdd) > 0 || len(s.CapDrop) > 0 {
		sc.Capabilities = &Capabilities{Add: caps(s.CapAdd), Drop: caps(s.CapDrop)}
		set = true
	}
	if s.ReadOnly {
		sc.ReadOnlyRootFilesystem = ptr(true)
		set = true
	}
	if s.Privileged {
		sc.Privileged = ptr(true)
		set = true
	}
	if s.User != "" {
		user, group, hasGroup := strings.Cut(s.User, ":")
		if uid, ok := numericID(user, "root"); ok {
			sc.RunAsUser = &uid
			set = true
		} else {
			c.warn(s.Name, "user", "%q: Kubernetes takes a numeric user ID only; the image's user runs", user)
		}
		if hasGroup {
			if gid, ok := numericID(group, "root"); ok {
				sc.RunAsGroup = &gid
			} else {
				c.warn(s.Name, "user", "group %q: Kubernetes takes a numeric group ID only; the image's group applies", group)
			}
		}
	}
	if set {
		ctr.SecurityContext = sc
	}
	psc := &PodSecurityContext{}
	pset := false
	for _, g := range s.GroupAdd {
		if gid, ok := numericID(g, "root"); ok {
			psc.SupplementalGroups = append(psc.SupplementalGroups, gid)
			pset = true
		} else {
			c.warn(s.Name, "group_add", "%q: Kubernetes takes numeric group IDs only; left out", g)
		}
	}
	keys := make([]string, 0, len(s.Sysctls))
	for k := range s.Sysctls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		psc.Sysctls = append(psc.Sysctls, Sysctl{Name: k, Value: s.Sysctls[k]})
		pset = true
	}
	if pset {
		pod.SecurityContext = psc
	}
}

// numericID reads a user or group ID; root, the one name every image
// agrees on, is 0.
func numericID(s, zero string) (int64, bool) {
	if s == zero {
		return 0, true
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v >= 0
}

// host: the pod's hostname, /etc/hosts, DNS, namespaces shared with the
// node, and the node's platform.
func (c *converter) host(s types.ServiceConfig, pod *PodSpec) {
	if s.Hostname != "" {
		first, _, dotted := strings.Cut(s.Hostname, ".")
		if isDNSLabel(first) {
			pod.Hostname = first
			if dotted {
				c.warn(s.Name, "hostname", "%q: a pod's hostname is one DNS label; it is %q", s.Hostname, first)
			}
		} else {
			c.warn(s.Name, "hostname", "%q is not a DNS label; left out", s.Hostname)
		}
	}
	byIP := map[string][]string{}
	for host, ips := range s.ExtraHosts {
		for _, ip := range ips {
			if ip == "host-gateway" {
				c.warn(s.Name, "extra_hosts", "%s:host-gateway: a pod has no host gateway to name; left out", host)
				continue
			}
			byIP[ip] = append(byIP[ip], host)
		}
	}
	ips := make([]string, 0, len(byIP))
	for ip := range byIP {
		ips = append(ips, ip)
	}
	sort.Strings(ips)
	for _, ip := range ips {
		hosts := byIP[ip]
		sort.Strings(hosts)
		pod.HostAliases = append(pod.HostAliases, HostAlias{IP: ip, Hostnames: hosts})
	}
	if len(s.DNS) > 0 || len(s.DNSSearch) > 0 || len(s.DNSOpts) > 0 {
		dc := &PodDNSConfig{Nameservers: s.DNS, Searches: s.DNSSearch}
		for _, o := range s.DNSOpts {
			name, value, ok := strings.Cut(o, ":")
			opt := PodDNSConfigOption{Name: name}
			if ok {
				opt.Value = ptr(value)
			}
			dc.Options = append(dc.Options, opt)
		}
		pod.DNSConfig = dc
	}
	switch {
	case s.NetworkMode == "host":
		pod.HostNetwork = true
		pod.DNSPolicy = "ClusterFirstWithHostNet"
	case s.NetworkMode == "" || s.NetworkMode == "bridge" || s.NetworkMode == "default":
	default:
		c.warn(s.Name, "network_mode", "%q has no Kubernetes equivalent: the pod has a network of its own", s.NetworkMode)
	}
	switch {
	case s.Pid == "host":
		pod.HostPID = true
	case s.Pid != "":
		c.warn(s.Name, "pid", "%q has no Kubernetes equivalent: the pod has a process namespace of its own", s.Pid)
	}
	switch {
	case s.Ipc == "host":
		pod.HostIPC = true
	case s.Ipc == "" || s.Ipc == "private" || s.Ipc == "shareable":
	default:
		c.warn(s.Name, "ipc", "%q has no Kubernetes equivalent: the pod has an IPC namespace of its own", s.Ipc)
	}
	if s.Platform != "" {
		parts := strings.Split(s.Platform, "/")
		pod.NodeSelector = map[string]string{"kubernetes.io/os": parts[0]}
		if len(parts) > 1 {
			pod.NodeSelector["kubernetes.io/arch"] = parts[1]
		}
		if len(parts) > 2 {
			c.warn(s.Name, "platform", "%q: nodes are chosen by OS and architecture; the variant %s is not", s.Platform, parts[2])
		}
	}
}

// annotations of a service's pods: its labels and annotations, which
// compose puts on containers; Kubernetes' labels are too narrow for them.
func (c *converter) annotations(s types.ServiceConfig) map[string]string {
	out := c.annotationsOf(s.Name, "labels", s.Labels)
	for k, v := range c.annotationsOf(s.Name, "annotations", s.Annotations) {
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

// annotationsOf is kv as annotations, each key that Kubernetes does not
// take as one left out with a warning.
func (c *converter) annotationsOf(service, field string, kv map[string]string) map[string]string {
	var out map[string]string
	for _, k := range sortedKeys(kv) {
		if err := qualifiedName(k); err != nil {
			c.warn(service, field, "%q is not a valid annotation key (%v); left out", k, err)
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = kv[k]
	}
	return out
}

func ptr[T any](v T) *T { return &v }
