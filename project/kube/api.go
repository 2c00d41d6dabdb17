package kube

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// The Kubernetes API objects berth writes, with the fields it sets: a
// subset of k8s.io/api's types, field for field, under the same names.
// k8s.io/api itself would add 8.6 MB (+40%) to the berth binary and a
// millisecond to the start of every berth process, for this one command;
// the apicheck tests decode every export strictly into k8s.io/api's types
// and validate it with the API server's code, which catches a field
// misnamed here.

// TypeMeta is an object's apiVersion and kind.
type TypeMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
}

// ObjectMeta is an object's metadata.
type ObjectMeta struct {
	Name        string            `yaml:"name,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// LabelSelector selects by labels.
type LabelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels,omitempty"`
}

// Deployment is apps/v1 Deployment.
type Deployment struct {
	TypeMeta   `yaml:",inline"`
	ObjectMeta ObjectMeta     `yaml:"metadata"`
	Spec       DeploymentSpec `yaml:"spec"`
}

// DeploymentSpec is apps/v1 DeploymentSpec.
type DeploymentSpec struct {
	Replicas *int32          `yaml:"replicas,omitempty"`
	Selector *LabelSelector  `yaml:"selector"`
	Template PodTemplateSpec `yaml:"template"`
}

// StatefulSet is apps/v1 StatefulSet.
type StatefulSet struct {
	TypeMeta   `yaml:",inline"`
	ObjectMeta ObjectMeta      `yaml:"metadata"`
	Spec       StatefulSetSpec `yaml:"spec"`
}

// StatefulSetSpec is apps/v1 StatefulSetSpec.
type StatefulSetSpec struct {
	Replicas    *int32          `yaml:"replicas,omitempty"`
	Selector    *LabelSelector  `yaml:"selector"`
	ServiceName string          `yaml:"serviceName,omitempty"`
	Template    PodTemplateSpec `yaml:"template"`
}

// Job is batch/v1 Job.
type Job struct {
	TypeMeta   `yaml:",inline"`
	ObjectMeta ObjectMeta `yaml:"metadata"`
	Spec       JobSpec    `yaml:"spec"`
}

// JobSpec is batch/v1 JobSpec.
type JobSpec struct {
	Parallelism  *int32          `yaml:"parallelism,omitempty"`
	Completions  *int32          `yaml:"completions,omitempty"`
	BackoffLimit *int32          `yaml:"backoffLimit,omitempty"`
	Template     PodTemplateSpec `yaml:"template"`
}

// PodTemplateSpec is v1 PodTemplateSpec.
type PodTemplateSpec struct {
	ObjectMeta ObjectMeta `yaml:"metadata"`
	Spec       PodSpec    `yaml:"spec"`
}

// PodSpec is v1 PodSpec.
type PodSpec struct {
	ServiceAccountName            string              `yaml:"serviceAccountName,omitempty"`
	Hostname                      string              `yaml:"hostname,omitempty"`
	HostNetwork                   bool                `yaml:"hostNetwork,omitempty"`
	HostPID                       bool                `yaml:"hostPID,omitempty"`
	HostIPC                       bool                `yaml:"hostIPC,omitempty"`
	DNSPolicy                     string              `yaml:"dnsPolicy,omitempty"`
	DNSConfig                     *PodDNSConfig       `yaml:"dnsConfig,omitempty"`
	HostAliases                   []HostAlias         `yaml:"hostAliases,omitempty"`
	NodeSelector                  map[string]string   `yaml:"nodeSelector,omitempty"`
	SecurityContext               *PodSecurityContext `yaml:"securityContext,omitempty"`
	RestartPolicy                 string              `yaml:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64              `yaml:"terminationGracePeriodSeconds,omitempty"`
	InitContainers                []Container         `yaml:"initContainers,omitempty"`
	Containers                    []Container         `yaml:"containers"`
	Volumes                       []Volume            `yaml:"volumes,omitempty"`
}

// Container is v1 Container.
type Container struct {
	Name            string                `yaml:"name"`
	Image           string                `yaml:"image"`
	ImagePullPolicy string                `yaml:"imagePullPolicy,omitempty"`
	Command         []string              `yaml:"command,omitempty"`
	Args            []string              `yaml:"args,omitempty"`
	WorkingDir      string                `yaml:"workingDir,omitempty"`
	Env             []EnvVar              `yaml:"env,omitempty"`
	Ports           []ContainerPort       `yaml:"ports,omitempty"`
	Resources       *ResourceRequirements `yaml:"resources,omitempty"`
	SecurityContext *SecurityContext      `yaml:"securityContext,omitempty"`
	StartupProbe    *Probe                `yaml:"startupProbe,omitempty"`
	ReadinessProbe  *Probe                `yaml:"readinessProbe,omitempty"`
	LivenessProbe   *Probe                `yaml:"livenessProbe,omitempty"`
	Stdin           bool                  `yaml:"stdin,omitempty"`
	TTY             bool                  `yaml:"tty,omitempty"`
	VolumeMounts    []VolumeMount         `yaml:"volumeMounts,omitempty"`
}

// EnvVar is v1 EnvVar, with a value.
type EnvVar struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// ContainerPort is v1 ContainerPort.
type ContainerPort struct {
	ContainerPort int32  `yaml:"containerPort"`
	Protocol      string `yaml:"protocol,omitempty"`
}

// ResourceRequirements is v1 ResourceRequirements; quantities as
// Kubernetes writes them ("512Mi", "250m").
type ResourceRequirements struct {
	Limits   map[string]string `yaml:"limits,omitempty"`
	Requests map[string]string `yaml:"requests,omitempty"`
}

// SecurityContext is v1 SecurityContext.
type SecurityContext struct {
	Capabilities           *Capabilities `yaml:"capabilities,omitempty"`
	Privileged             *bool         `yaml:"privileged,omitempty"`
	RunAsUser              *int64        `yaml:"runAsUser,omitempty"`
	RunAsGroup             *int64        `yaml:"runAsGroup,omitempty"`
	ReadOnlyRootFilesystem *bool         `yaml:"readOnlyRootFilesystem,omitempty"`
}

// Capabilities is v1 Capabilities.
type Capabilities struct {
	Add  []string `yaml:"add,omitempty"`
	Drop []string `yaml:"drop,omitempty"`
}

// PodSecurityContext is v1 PodSecurityContext.
type PodSecurityContext struct {
	SupplementalGroups []int64  `yaml:"supplementalGroups,omitempty"`
	Sysctls            []Sysctl `yaml:"sysctls,omitempty"`
}

// Sysctl is v1 Sysctl.
type Sysctl struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// Probe is v1 Probe with an exec handler.
type Probe struct {
	Exec             *ExecAction `yaml:"exec,omitempty"`
	PeriodSeconds    int32       `yaml:"periodSeconds,omitempty"`
	TimeoutSeconds   int32       `yaml:"timeoutSeconds,omitempty"`
	FailureThreshold int32       `yaml:"failureThreshold,omitempty"`
}

// ExecAction is v1 ExecAction.
type ExecAction struct {
	Command []string `yaml:"command"`
}

// HostAlias is v1 HostAlias.
type HostAlias struct {
	IP        string   `yaml:"ip"`
	Hostnames []string `yaml:"hostnames"`
}

// PodDNSConfig is v1 PodDNSConfig.
type PodDNSConfig struct {
	Nameservers []string             `yaml:"nameservers,omitempty"`
	Searches    []string             `yaml:"searches,omitempty"`
	Options     []PodDNSConfigOption `yaml:"options,omitempty"`
}

// PodDNSConfigOption is v1 PodDNSConfigOption.
type PodDNSConfigOption struct {
	Name  string  `yaml:"name"`
	Value *string `yaml:"value,omitempty"`
}

// VolumeMount is v1 VolumeMount.
type VolumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath,omitempty"`
	ReadOnly  bool   `yaml:"readOnly,omitempty"`
}

// Volume is v1 Volume with the sources berth uses.
type Volume struct {
	Name                  string                             `yaml:"name"`
	EmptyDir              *EmptyDirVolumeSource              `yaml:"emptyDir,omitempty"`
	PersistentVolumeClaim *PersistentVolumeClaimVolumeSource `yaml:"persistentVolumeClaim,omitempty"`
	ConfigMap             *ConfigMapVolumeSource             `yaml:"configMap,omitempty"`
	Secret                *SecretVolumeSource                `yaml:"secret,omitempty"`
}

// EmptyDirVolumeSource is v1 EmptyDirVolumeSource.
type EmptyDirVolumeSource struct {
	Medium    string `yaml:"medium,omitempty"`
	SizeLimit string `yaml:"sizeLimit,omitempty"`
}

// PersistentVolumeClaimVolumeSource is v1
// PersistentVolumeClaimVolumeSource.
type PersistentVolumeClaimVolumeSource struct {
	ClaimName string `yaml:"claimName"`
}

// ConfigMapVolumeSource is v1 ConfigMapVolumeSource.
type ConfigMapVolumeSource struct {
	Name  string      `yaml:"name"`
	Items []KeyToPath `yaml:"items,omitempty"`
}

// SecretVolumeSource is v1 SecretVolumeSource.
type SecretVolumeSource struct {
	SecretName string      `yaml:"secretName"`
	Items      []KeyToPath `yaml:"items,omitempty"`
}

// KeyToPath is v1 KeyToPath.
type KeyToPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
	Mode *int32 `yaml:"mode,omitempty"`
}

// Service is v1 Service.
type Service struct {
	TypeMeta   `yaml:",inline"`
	ObjectMeta ObjectMeta  `yaml:"metadata"`
	Spec       ServiceSpec `yaml:"spec"`
}

// ServiceSpec is v1 ServiceSpec.
type ServiceSpec struct {
	Type      string            `yaml:"type,omitempty"`
	ClusterIP string            `yaml:"clusterIP,omitempty"`
	Selector  map[string]string `yaml:"selector,omitempty"`
	Ports     []ServicePort     `yaml:"ports,omitempty"`
}

// ServicePort is v1 ServicePort, with a numeric target port.
type ServicePort struct {
	Name        string  `yaml:"name,omitempty"`
	Protocol    string  `yaml:"protocol,omitempty"`
	AppProtocol *string `yaml:"appProtocol,omitempty"`
	Port        int32   `yaml:"port"`
	TargetPort  int32   `yaml:"targetPort,omitempty"`
	NodePort    int32   `yaml:"nodePort,omitempty"`
}

// PersistentVolumeClaim is v1 PersistentVolumeClaim.
type PersistentVolumeClaim struct {
	TypeMeta   `yaml:",inline"`
	ObjectMeta ObjectMeta                `yaml:"metadata"`
	Spec       PersistentVolumeClaimSpec `yaml:"spec"`
}

// PersistentVolumeClaimSpec is v1 PersistentVolumeClaimSpec.
type PersistentVolumeClaimSpec struct {
	AccessModes []string                   `yaml:"accessModes"`
	Resources   VolumeResourceRequirements `yaml:"resources"`
}

// VolumeResourceRequirements is v1 VolumeResourceRequirements.
type VolumeResourceRequirements struct {
	Requests map[string]string `yaml:"requests"`
}

// ConfigMap is v1 ConfigMap.
type ConfigMap struct {
	TypeMeta   `yaml:",inline"`
	ObjectMeta ObjectMeta        `yaml:"metadata"`
	Data       map[string]string `yaml:"data,omitempty"`
	// BinaryData is base64, as in JSON.
	BinaryData map[string]string `yaml:"binaryData,omitempty"`
}

// Secret is v1 Secret.
type Secret struct {
	TypeMeta   `yaml:",inline"`
	ObjectMeta ObjectMeta `yaml:"metadata"`
	Type       string     `yaml:"type"`
	// Data is base64, as in JSON.
	Data map[string]string `yaml:"data"`
}

// ServiceAccount is v1 ServiceAccount.
type ServiceAccount struct {
	TypeMeta   `yaml:",inline"`
	ObjectMeta ObjectMeta `yaml:"metadata"`
}

// Role is rbac.authorization.k8s.io/v1 Role.
type Role struct {
	TypeMeta   `yaml:",inline"`
	ObjectMeta ObjectMeta   `yaml:"metadata"`
	Rules      []PolicyRule `yaml:"rules"`
}

// PolicyRule is rbac/v1 PolicyRule.
type PolicyRule struct {
	APIGroups []string `yaml:"apiGroups"`
	Resources []string `yaml:"resources"`
	Verbs     []string `yaml:"verbs"`
}

// RoleBinding is rbac.authorization.k8s.io/v1 RoleBinding.
type RoleBinding struct {
	TypeMeta   `yaml:",inline"`
	ObjectMeta ObjectMeta `yaml:"metadata"`
	Subjects   []Subject  `yaml:"subjects"`
	RoleRef    RoleRef    `yaml:"roleRef"`
}

// Subject is rbac/v1 Subject.
type Subject struct {
	Kind string `yaml:"kind"`
	Name string `yaml:"name"`
}

// RoleRef is rbac/v1 RoleRef.
type RoleRef struct {
	APIGroup string `yaml:"apiGroup"`
	Kind     string `yaml:"kind"`
	Name     string `yaml:"name"`
}

// binarySI writes a byte count as Kubernetes does: with the largest
// binary suffix that divides it ("512Mi", "1536Mi"), else in bytes.
func binarySI(n int64) string {
	suffixes := []string{"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	for i := len(suffixes) - 1; i >= 0; i-- {
		unit := int64(1) << (10 * (i + 1))
		if n >= unit && n%unit == 0 {
			return fmt.Sprintf("%d%s", n/unit, suffixes[i])
		}
	}
	return fmt.Sprint(n)
}

// milli writes thousandths of a CPU as Kubernetes does: "250m", "1".
func milli(m int64) string {
	if m%1000 == 0 {
		return fmt.Sprint(m / 1000)
	}
	return fmt.Sprintf("%dm", m)
}

// quantityRE is Kubernetes' quantity syntax: a decimal number with a
// binary or decimal suffix or an exponent. The expressions of this file
// are compiled when first used, not in every berth process's start.
var quantityRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$`)
})

// positiveQuantity checks a size: a Kubernetes quantity above zero.
func positiveQuantity(s string) error {
	m := quantityRE().FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("%q is not a size such as 10Gi", s)
	}
	if strings.Trim(m[1], "0.") == "" {
		return fmt.Errorf("%q is not above zero", s)
	}
	return nil
}

var (
	qualifiedNameRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	})
	dnsSubdomainRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	})
)

// qualifiedName checks an annotation key as Kubernetes does: an optional
// DNS subdomain prefix and a slash, then a name of 63 characters at most.
func qualifiedName(k string) error {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	} else if prefix == "" || len(prefix) > 253 || !dnsSubdomainRE().MatchString(prefix) {
		return fmt.Errorf("the prefix before / must be a lower-case DNS subdomain")
	}
	if len(name) == 0 || len(name) > 63 || !qualifiedNameRE().MatchString(name) {
		return fmt.Errorf("the name must be 63 letters, digits, '-', '_' or '.' at most, beginning and ending with a letter or digit")
	}
	return nil
}
