package kube

import (
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// waitTimeout bounds one wait; a failed init container is started again
// by the kubelet (with back-off), so a longer wait only takes retries.
const waitTimeout = "--timeout=10m"

// waits gives a service an init container per dependency it must wait
// for: service_healthy waits for the dependency's rollout, whose pods are
// ready once their readiness probe (the healthcheck) passes;
// service_completed_successfully for its Job to complete. service_started
// waits for nothing: a pod's containers start when it is scheduled, and a
// dependency's name resolves once its pods are ready.
func (c *converter) waits(s types.ServiceConfig, pod *PodSpec) {
	for _, dep := range sortedKeys(s.DependsOn) {
		d := s.DependsOn[dep]
		field := "depends_on." + dep
		if d.Restart {
			c.warn(s.Name, field+".restart", "a pod is not restarted when a pod it depends on is")
		}
		name, exported := c.names[dep]
		if !exported {
			continue
		}
		var args []string
		switch d.Condition {
		case types.ServiceConditionHealthy:
			switch kind := c.kindOf(dep); kind {
			case "Job":
				args = []string{"wait", "--for=condition=Ready", "pod", "--selector=" + selectorString(c.selector(dep))}
			default:
				args = []string{"rollout", "status", strings.ToLower(kind) + "/" + name}
			}
		case types.ServiceConditionCompletedSuccessfully:
			args = []string{"wait", "--for=condition=Complete", "job/" + name}
		default:
			continue
		}
		pod.InitContainers = append(pod.InitContainers, Container{
			Name:  waitName(name),
			Image: c.opts.WaitImage,
			// The image's entrypoint is kubectl, as in Kubernetes' own
			// image and the common others.
			Args: append(args, waitTimeout),
		})
		pod.ServiceAccountName = c.waitAccount()
		c.waiters = true
	}
}

func waitName(dep string) string {
	n := "wait-for-" + dep
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	return n
}

func selectorString(sel map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(sel) {
		parts = append(parts, k+"="+sel[k])
	}
	return strings.Join(parts, ",")
}

// waitAccount is the ServiceAccount of pods that wait.
func (c *converter) waitAccount() string {
	n := dnsLabel(c.p.Name + "-wait")
	if n == "" {
		n = "wait"
	}
	return n
}

// waitRBAC lets the waiting pods' account read, in its namespace only,
// the workloads and pods a wait looks at, and nothing else.
func (c *converter) waitRBAC() error {
	name := c.waitAccount()
	read := []string{"get", "list", "watch"}
	sa := &ServiceAccount{
		TypeMeta:   TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: c.meta(name, ""),
	}
	role := &Role{
		TypeMeta:   TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: c.meta(name, ""),
		Rules: []PolicyRule{
			{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets"}, Verbs: read},
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: read},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: read},
		},
	}
	binding := &RoleBinding{
		TypeMeta:   TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: c.meta(name, ""),
		// A subject without a namespace is an account of the binding's
		// namespace, wherever the manifests are applied.
		Subjects: []Subject{{Kind: "ServiceAccount", Name: name}},
		RoleRef:  RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
	}
	if err := c.add("ServiceAccount", name, sa); err != nil {
		return err
	}
	if err := c.add("Role", name, role); err != nil {
		return err
	}
	return c.add("RoleBinding", name, binding)
}
