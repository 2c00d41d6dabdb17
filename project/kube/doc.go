// Package kube turns a loaded compose project into Kubernetes manifests:
// the objects `berth export kubernetes` writes.
//
// It is a pure conversion, compose model in, API objects (types of its
// own, see api.go) and warnings out; it reads only the files the project itself names (bind
// mounts, secrets and configs), and never talks to a cluster or a registry.
// The engine (package project) builds and pushes images; cmd/berth writes
// the result.
//
// The mapping, in short (README.md has the full table):
//
//   - a service becomes a Deployment; a StatefulSet when it mounts a named
//     volume (so that an update replaces a pod before its successor
//     mounts the same volume); a Job when another service waits for it
//     with service_completed_successfully.
//   - every service gets a headless Service of its own name, so that its
//     name, its network aliases and its link aliases resolve to its pods
//     as they do on a berth network, on every port; published ports get a
//     second Service (NodePort or LoadBalancer) with just those ports.
//     A port published on a loopback address is not exposed at all.
//   - named volumes become PersistentVolumeClaims, tmpfs an emptyDir in
//     memory, a bind mount of a single file a ConfigMap (any other bind
//     mount is refused), secrets and configs Secrets and ConfigMaps.
//   - depends_on with service_healthy or service_completed_successfully
//     becomes an init container that waits (kubectl rollout status or
//     kubectl wait) under a ServiceAccount allowed only to read workloads.
//
// Whatever compose says that Kubernetes cannot express is a Warning naming
// the service and the field; none is dropped without one.
package kube
