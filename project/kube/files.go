package kube

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/types"
)

// files mounts the service's secrets and configs where berth mounts them
// (secrets under /run/secrets, configs under /, unless a target says
// otherwise), each a file of its own, read-only, mode 0444 unless given.
func (c *converter) files(s types.ServiceConfig, pod *PodSpec, ctr *Container) error {
	type ref struct {
		kind string // "secret" or "config"
		r    types.FileReferenceConfig
	}
	var refs []ref
	for _, r := range s.Secrets {
		refs = append(refs, ref{"secret", types.FileReferenceConfig(r)})
	}
	for _, r := range s.Configs {
		refs = append(refs, ref{"config", types.FileReferenceConfig(r)})
	}
	pv := c.pv[s.Name]
	for i, r := range refs {
		field := fmt.Sprintf("%ss[%d]", r.kind, i)
		if r.kind == "config" {
			field = fmt.Sprintf("configs[%d]", i-len(s.Secrets))
		}
		name, key, err := c.fileObject(r.kind, r.r.Source)
		if err != nil {
			return err
		}
		target := r.r.Target
		if target == "" {
			target = r.r.Source
		}
		if !filepath.IsAbs(target) {
			if r.kind == "secret" {
				target = "/run/secrets/" + target
			} else {
				target = "/" + target
			}
		}
		mode := int32(0o444)
		if r.r.Mode != nil {
			mode = int32(*r.r.Mode)
		}
		if r.r.UID != "" || r.r.GID != "" {
			c.warn(s.Name, field, "%s %s: a mounted %s belongs to root (or the pod's fsGroup); uid and gid are not kept", r.kind, r.r.Source, r.kind)
		}
		items := []KeyToPath{{Key: key, Path: key, Mode: &mode}}
		vol := Volume{Name: pv.name(r.kind + "-" + r.r.Source)}
		if r.kind == "secret" {
			vol.Secret = &SecretVolumeSource{SecretName: name, Items: items}
		} else {
			vol.ConfigMap = &ConfigMapVolumeSource{Name: name, Items: items}
		}
		pod.Volumes = append(pod.Volumes, vol)
		ctr.VolumeMounts = append(ctr.VolumeMounts, VolumeMount{Name: vol.Name, MountPath: target, SubPath: key, ReadOnly: true})
	}
	return nil
}

// fileObjects makes the Secrets and ConfigMaps of the exported services
// first, so that the ConfigMaps of bind mounts take other names.
func (c *converter) fileObjects() error {
	for _, n := range c.services {
		s := c.p.Services[n]
		for _, r := range s.Secrets {
			if _, _, err := c.fileObject("secret", r.Source); err != nil {
				return fmt.Errorf("service %q: %w", n, err)
			}
		}
		for _, r := range s.Configs {
			if _, _, err := c.fileObject("config", r.Source); err != nil {
				return fmt.Errorf("service %q: %w", n, err)
			}
		}
	}
	return nil
}

// fileObject makes, once, the Secret or ConfigMap of a top-level secret
// or config, and returns its name and the key its content is under. An
// external one is the object of its name, with the content under the
// key of that name; it must exist in the namespace.
func (c *converter) fileObject(kind, source string) (string, string, error) {
	var obj types.FileObjectConfig
	var ok bool
	if kind == "secret" {
		var o types.SecretConfig
		o, ok = c.p.Secrets[source]
		obj = types.FileObjectConfig(o)
	} else {
		var o types.ConfigObjConfig
		o, ok = c.p.Configs[source]
		obj = types.FileObjectConfig(o)
	}
	if !ok {
		return "", "", fmt.Errorf("%s %q is not declared under the top-level %ss:", kind, source, kind)
	}
	key := configKey(source)
	objKind := "ConfigMap"
	if kind == "secret" {
		objKind = "Secret"
	}
	if bool(obj.External) {
		ext := source
		if obj.Name != "" {
			ext = obj.Name
		}
		name := dnsLabel(ext)
		if !c.made[objKind+"/"+name] {
			c.made[objKind+"/"+name] = true
			c.note("", kind+"s."+source, "external: the %s %s must exist in the namespace, its content under the key %s", objKind, name, key)
		}
		return name, key, nil
	}
	name := dnsLabel(source)
	if name == "" {
		return "", "", fmt.Errorf("%s %q: no letters or digits to make a name of", kind, source)
	}
	if c.made[objKind+"/"+name] {
		return name, key, nil
	}
	c.made[objKind+"/"+name] = true
	var content []byte
	switch {
	case obj.File != "":
		b, err := os.ReadFile(obj.File)
		if err != nil {
			return "", "", fmt.Errorf("%s %q: %w", kind, source, err)
		}
		content = b
	case obj.Environment != "":
		content = []byte(c.p.Environment[obj.Environment])
	default:
		content = []byte(obj.Content)
	}
	if len(content) > maxConfigMap {
		return "", "", fmt.Errorf("%s %q: %d bytes is more than a %s holds (1 MiB)", kind, source, len(content), objKind)
	}
	field := kind + "s." + source
	if obj.Driver != "" {
		c.warn("", field+".driver", "%q has no Kubernetes equivalent; the content is stored in the %s", obj.Driver, objKind)
	}
	if obj.TemplateDriver != "" {
		c.warn("", field+".template_driver", "%q: the content is stored as it is, not rendered", obj.TemplateDriver)
	}
	meta := c.meta(name, "")
	meta.Annotations = c.annotationsOf("", field+".labels", obj.Labels)
	if kind == "secret" {
		sec := &Secret{
			TypeMeta:   TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: meta,
			Type:       "Opaque",
			Data:       map[string]string{key: base64.StdEncoding.EncodeToString(content)},
		}
		return name, key, c.add("Secret", name, sec)
	}
	cm := &ConfigMap{TypeMeta: TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta}
	setData(cm, key, content)
	return name, key, c.add("ConfigMap", name, cm)
}
