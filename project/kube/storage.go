package kube

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/types"
	units "github.com/docker/go-units"
)

// maxConfigMap is the most a ConfigMap or Secret holds (etcd's limit on
// one value, as the API server checks it).
const maxConfigMap = 1 << 20

// podVolumes names a pod's volumes uniquely.
type podVolumes map[string]bool

func (pv podVolumes) name(base string) string {
	base = dnsLabel(base)
	if base == "" {
		base = "volume"
	}
	if len(base) > 55 {
		base = strings.TrimRight(base[:55], "-")
	}
	name := base
	for i := 2; pv[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	pv[name] = true
	return name
}

// mounts converts volumes:, tmpfs: and shm_size.
func (c *converter) mounts(s types.ServiceConfig, pod *PodSpec, ctr *Container) error {
	pv := c.podVolumeNames(s.Name)
	for i, v := range s.Volumes {
		field := fmt.Sprintf("volumes[%d]", i)
		spec := c.volumeSpec(v)
		mount := VolumeMount{MountPath: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeVolume:
			vol := Volume{}
			if v.Source == "" {
				// An anonymous volume lives as long as its container
				// does; an emptyDir as long as its pod.
				vol.Name = pv.name("anonymous")
				vol.EmptyDir = &EmptyDirVolumeSource{}
			} else {
				claim, err := c.claimName(v.Source)
				if err != nil {
					return err
				}
				vol.Name = pv.name(v.Source)
				vol.PersistentVolumeClaim = &PersistentVolumeClaimVolumeSource{ClaimName: claim}
				if !slices.Contains(c.claimServices[v.Source], s.Name) {
					// Each pod mounts it, however many times.
					c.claimUses[v.Source] += s.GetScale()
					c.claimServices[v.Source] = append(c.claimServices[v.Source], s.Name)
				}
			}
			if v.Volume != nil && v.Volume.Subpath != "" {
				mount.SubPath = v.Volume.Subpath
			}
			mount.Name = vol.Name
			pod.Volumes = append(pod.Volumes, vol)
		case types.VolumeTypeBind:
			vol, sub, ok, err := c.bind(s, field, spec, v)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			vol.Name = pv.name(filepath.Base(v.Source))
			mount.Name, mount.SubPath, mount.ReadOnly = vol.Name, sub, true
			pod.Volumes = append(pod.Volumes, vol)
		case types.VolumeTypeTmpfs:
			vol := Volume{Name: pv.name("tmpfs"), EmptyDir: &EmptyDirVolumeSource{Medium: "Memory"}}
			if v.Tmpfs != nil {
				if v.Tmpfs.Size > 0 {
					vol.EmptyDir.SizeLimit = binarySI(int64(v.Tmpfs.Size))
				}
				if v.Tmpfs.Mode != 0 {
					c.warn(s.Name, field, "%s: an emptyDir's mode is the kubelet's (0777); mode %o is not kept", spec, v.Tmpfs.Mode)
				}
			}
			mount.Name = vol.Name
			pod.Volumes = append(pod.Volumes, vol)
		default:
			c.warn(s.Name, field, "%s: a volume of type %s has no Kubernetes equivalent; left out", spec, v.Type)
			continue
		}
		ctr.VolumeMounts = append(ctr.VolumeMounts, mount)
	}
	for i, t := range s.Tmpfs {
		path, opts, _ := strings.Cut(t, ":")
		vol := Volume{Name: pv.name("tmpfs"), EmptyDir: &EmptyDirVolumeSource{Medium: "Memory"}}
		for _, o := range strings.Split(opts, ",") {
			k, val, _ := strings.Cut(o, "=")
			switch k {
			case "":
			case "size":
				n, err := units.RAMInBytes(val)
				if err != nil {
					c.warn(s.Name, fmt.Sprintf("tmpfs[%d]", i), "%q: size %q is not a size; left out", t, val)
					continue
				}
				vol.EmptyDir.SizeLimit = binarySI(n)
			default:
				c.warn(s.Name, fmt.Sprintf("tmpfs[%d]", i), "%q: the option %s has no emptyDir equivalent; left out", t, k)
			}
		}
		pod.Volumes = append(pod.Volumes, vol)
		ctr.VolumeMounts = append(ctr.VolumeMounts, VolumeMount{Name: vol.Name, MountPath: path})
	}
	if s.ShmSize > 0 {
		// /dev/shm of a pod is the runtime's 64 MiB; a memory emptyDir
		// over it is the usual way to size it.
		vol := Volume{Name: pv.name("shm"), EmptyDir: &EmptyDirVolumeSource{Medium: "Memory", SizeLimit: binarySI(int64(s.ShmSize))}}
		pod.Volumes = append(pod.Volumes, vol)
		ctr.VolumeMounts = append(ctr.VolumeMounts, VolumeMount{Name: vol.Name, MountPath: "/dev/shm"})
	}
	return nil
}

// podVolumeNames starts a service's set of pod volume names.
func (c *converter) podVolumeNames(service string) podVolumes {
	pv := podVolumes{}
	c.pv[service] = pv
	return pv
}

// volumeSpec is a mount as compose's short syntax writes it, a bind
// source relative to the project directory where it lies inside.
func (c *converter) volumeSpec(v types.ServiceVolumeConfig) string {
	src := v.Source
	if v.Type == types.VolumeTypeBind && c.p.WorkingDir != "" {
		if rel, err := filepath.Rel(c.p.WorkingDir, src); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			src = "./" + rel
		}
	}
	out := v.Target
	if src != "" {
		out = src + ":" + out
	}
	if v.ReadOnly {
		out += ":ro"
	}
	return out
}

// bind carries a bind mount over as a ConfigMap when its source is a
// single file small enough for one, and refuses it otherwise: a pod on
// some node has no access to this machine's directories.
func (c *converter) bind(s types.ServiceConfig, field, spec string, v types.ServiceVolumeConfig) (Volume, string, bool, error) {
	refuse := func(why string, args ...any) (Volume, string, bool, error) {
		c.warn(s.Name, field, "%s: refused: %s", spec, fmt.Sprintf(why, args...))
		return Volume{}, "", false, nil
	}
	fi, err := os.Stat(v.Source)
	switch {
	case err != nil:
		return refuse("%v", err)
	case fi.IsDir():
		return refuse("a directory of this machine has no Kubernetes equivalent (a ConfigMap holds single files); mount left out")
	case !fi.Mode().IsRegular():
		return refuse("not a regular file; mount left out")
	case fi.Size() > maxConfigMap:
		return refuse("%d bytes is more than a ConfigMap holds (1 MiB); mount left out", fi.Size())
	}
	content, err := os.ReadFile(v.Source)
	if err != nil {
		return refuse("%v", err)
	}
	key := configKey(filepath.Base(v.Source))
	name := c.uniqueName("ConfigMap", c.names[s.Name]+"-"+dnsLabel(filepath.Base(v.Source)))
	cm := &ConfigMap{TypeMeta: TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: c.meta(name, s.Name)}
	setData(cm, key, content)
	if err := c.add("ConfigMap", name, cm); err != nil {
		return Volume{}, "", false, err
	}
	mode := int32(0o644)
	if fi.Mode()&0o111 != 0 {
		mode = 0o755
	}
	if v.ReadOnly {
		c.note(s.Name, field, "%s: the file is copied into ConfigMap %s, as it is now", spec, name)
	} else {
		c.warn(s.Name, field, "%s: the file is copied into ConfigMap %s, as it is now, and mounted read-only: writes to it fail", spec, name)
	}
	vol := Volume{ConfigMap: &ConfigMapVolumeSource{Name: name, Items: []KeyToPath{{Key: key, Path: key, Mode: &mode}}}}
	return vol, key, true, nil
}

// setData puts content under key, as text where it is UTF-8.
func setData(cm *ConfigMap, key string, content []byte) {
	if utf8.Valid(content) {
		cm.Data = map[string]string{key: string(content)}
	} else {
		cm.BinaryData = map[string]string{key: base64.StdEncoding.EncodeToString(content)}
	}
}

// configKey is the nearest valid key of a ConfigMap or Secret to s.
func configKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || out == "." || out == ".." {
		out = "content"
	}
	return out
}

// uniqueName is base, or base-2, -3...: the first name of kind not yet
// taken.
func (c *converter) uniqueName(kind, base string) string {
	if len(base) > 60 {
		base = strings.TrimRight(base[:60], "-")
	}
	name := base
	for i := 2; c.taken[kind+"/"+name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name
}

// claimName is the PersistentVolumeClaim of a named volume: the volume's
// key, or for an external volume its name, which must exist already.
func (c *converter) claimName(key string) (string, error) {
	cfg, ok := c.p.Volumes[key]
	name := key
	if ok && bool(cfg.External) && cfg.Name != "" {
		name = cfg.Name
	}
	claim := dnsLabel(name)
	if claim == "" {
		return "", fmt.Errorf("volume %q: no letters or digits to make a claim name of", key)
	}
	return claim, nil
}

// claims writes a PersistentVolumeClaim for each named volume the
// exported services mount, of the size of its x-berth-size or
// Options.VolumeSize; ReadWriteMany where more than one pod mounts it.
func (c *converter) claims() error {
	for _, key := range sortedKeys(c.claimServices) {
		cfg := c.p.Volumes[key]
		field := "volumes." + key
		if bool(cfg.External) {
			c.note("", field, "external: the claim %s must exist in the namespace", dnsLabel(cfg.Name))
			continue
		}
		size := c.opts.VolumeSize
		if v, ok := cfg.Extensions[SizeExtension]; ok {
			size = fmt.Sprint(v)
		}
		if err := positiveQuantity(size); err != nil {
			return fmt.Errorf("%s.%s: %w", field, SizeExtension, err)
		}
		mode := "ReadWriteOnce"
		if c.claimUses[key] > 1 {
			mode = "ReadWriteMany"
			c.note("", field, "mounted by %d pods (services %s): the claim asks for ReadWriteMany, which its storage class must offer", c.claimUses[key], strings.Join(c.claimServices[key], ", "))
		}
		if cfg.Driver != "" && cfg.Driver != "local" {
			c.warn("", field+".driver", "%q: the claim uses the cluster's default storage class", cfg.Driver)
		}
		if len(cfg.DriverOpts) > 0 {
			c.warn("", field+".driver_opts", "driver options have no claim equivalent; left out")
		}
		name, _ := c.claimName(key)
		pvc := &PersistentVolumeClaim{
			TypeMeta:   TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
			ObjectMeta: c.meta(name, ""),
			Spec: PersistentVolumeClaimSpec{
				AccessModes: []string{mode},
				Resources:   VolumeResourceRequirements{Requests: map[string]string{"storage": size}},
			},
		}
		pvc.ObjectMeta.Annotations = c.annotationsOf("", field+".labels", cfg.Labels)
		if err := c.add("PersistentVolumeClaim", name, pvc); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	return nil
}
