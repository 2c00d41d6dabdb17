// Package apicheck checks Kubernetes manifests as the Kubernetes API
// server does when they are created, with its own code: each document is
// decoded strictly (an unknown or duplicate field is an error, as with
// `kubectl apply --validate=strict`), defaulted, converted to the internal
// version, and passed through the create path of the resource's registry
// strategy (metadata, the resource's validation, its declarative
// validation); a warning the server would return is an error too.
//
// It is a module of its own so that k8s.io/kubernetes, which the berth
// binary must not link and whose requirements would raise berth's own
// dependencies, is a dependency of these tests only.
//
// What it does not do is what a cluster does beyond the object: admission
// (quotas, limit ranges, the default storage class, pod security),
// allocating cluster IPs and node ports, authorization.
//
// A real kube-apiserver with server-side dry run can be had here too: built
// from the module proxy (4.5 minutes more on top of this package's build,
// a 171 MB binary) over Debian's etcd-server 3.4, it is ready in a few
// seconds, and it accepted every golden export (dryRun=All,
// fieldValidation=Strict). It was not made the test: it checks nothing
// more of the manifests than this code does, which is the code it runs,
// and it would add an etcd, certificates, ports and processes to every CI
// run, while this returns the stored objects for tests to look into.
package apicheck

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/warning"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	api "k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	_ "k8s.io/kubernetes/pkg/apis/rbac/install"
	"k8s.io/kubernetes/pkg/capabilities"
	"k8s.io/kubernetes/pkg/registry/apps/deployment"
	"k8s.io/kubernetes/pkg/registry/apps/statefulset"
	"k8s.io/kubernetes/pkg/registry/batch/job"
	"k8s.io/kubernetes/pkg/registry/core/configmap"
	"k8s.io/kubernetes/pkg/registry/core/persistentvolumeclaim"
	"k8s.io/kubernetes/pkg/registry/core/secret"
	"k8s.io/kubernetes/pkg/registry/core/service"
	"k8s.io/kubernetes/pkg/registry/core/serviceaccount"
	"k8s.io/kubernetes/pkg/registry/rbac/role"
	"k8s.io/kubernetes/pkg/registry/rbac/rolebinding"
)

// Namespace is the namespace objects are checked as created in.
const Namespace = "default"

// resources are the kinds berth writes: their resource name and the
// strategy the API server creates them with.
var resources = map[schema.GroupKind]struct {
	resource string
	strategy rest.RESTCreateStrategy
}{
	{Group: "apps", Kind: "Deployment"}:                       {"deployments", deployment.Strategy},
	{Group: "apps", Kind: "StatefulSet"}:                      {"statefulsets", statefulset.Strategy},
	{Group: "batch", Kind: "Job"}:                             {"jobs", job.Strategy},
	{Group: "", Kind: "Service"}:                              {"services", service.Strategy},
	{Group: "", Kind: "PersistentVolumeClaim"}:                {"persistentvolumeclaims", persistentvolumeclaim.Strategy},
	{Group: "", Kind: "ConfigMap"}:                            {"configmaps", configmap.Strategy},
	{Group: "", Kind: "Secret"}:                               {"secrets", secret.Strategy},
	{Group: "", Kind: "ServiceAccount"}:                       {"serviceaccounts", serviceaccount.Strategy},
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:        {"roles", role.Strategy},
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}: {"rolebindings", rolebinding.Strategy},
}

// Object is one checked object.
type Object struct {
	GVK  schema.GroupVersionKind
	Name string
	// Internal is the object as the API server would store it: decoded,
	// defaulted, converted to the internal version and prepared.
	Internal runtime.Object
}

// Check checks each document of a YAML stream and returns the objects, or
// every problem found, each naming its document and object.
func Check(stream []byte) ([]Object, error) {
	scheme := legacyscheme.Scheme
	strict := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
	r := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var objs []Object
	var errs []error
	for i := 0; ; i++ {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, err := checkOne(strict, doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			continue
		}
		objs = append(objs, obj)
	}
	return objs, errors.Join(errs...)
}

func checkOne(strict runtime.Decoder, doc []byte) (Object, error) {
	scheme := legacyscheme.Scheme
	versioned, gvk, err := strict.Decode(doc, nil, nil)
	if err != nil {
		// A strict decoding error still decodes the object; the API
		// server with fieldValidation=Strict refuses it.
		return Object{}, fmt.Errorf("decoding: %w", err)
	}
	out := Object{GVK: *gvk}
	if m, err := meta.Accessor(versioned); err == nil {
		out.Name = m.GetName()
	}
	name := gvk.Kind + " " + out.Name
	res, ok := resources[gvk.GroupKind()]
	if !ok {
		return out, fmt.Errorf("%s: %s is not a kind berth writes", name, gvk.GroupKind())
	}
	scheme.Default(versioned)
	internal, err := scheme.ConvertToVersion(versioned, schema.GroupVersion{Group: gvk.Group, Version: runtime.APIVersionInternal})
	if err != nil {
		return out, fmt.Errorf("%s: converting: %w", name, err)
	}
	m, err := meta.Accessor(internal)
	if err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	// What the create handler does before the strategy: system fields,
	// and the service storage's own first step.
	rest.FillObjectMetaSystemFields(m)
	if svc, ok := internal.(*api.Service); ok {
		normalizeClusterIPs(svc)
	}
	ctx := genericapirequest.WithNamespace(context.Background(), Namespace)
	ctx = genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{
		IsResourceRequest: true, Verb: "create", APIPrefix: "apis",
		APIGroup: gvk.Group, APIVersion: gvk.Version, Namespace: Namespace,
		Resource: res.resource, Name: out.Name,
	})
	var warnings recorder
	ctx = warning.WithWarningRecorder(ctx, &warnings)
	if err := rest.BeforeCreate(res.strategy, ctx, internal); err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	if len(warnings) > 0 {
		return out, fmt.Errorf("%s: the API server warns: %s", name, strings.Join(warnings, "; "))
	}
	out.Internal = internal
	return out, nil
}

// normalizeClusterIPs is what the service storage does first on create
// (pkg/registry/core/service/storage, not exported): a client that sets
// clusterIP only means clusterIPs too.
func normalizeClusterIPs(svc *api.Service) {
	if len(svc.Spec.ClusterIP) > 0 && len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	}
}

func init() {
	// As kubeadm, kind, k3s and most distributions run the API server:
	// --allow-privileged=true (its default is false), so that a
	// privileged: true service is valid.
	capabilities.Setup(true, 0)
}

// recorder keeps the warnings a create would return to the client.
type recorder []string

func (r *recorder) AddWarning(_, text string) { *r = append(*r, text) }
