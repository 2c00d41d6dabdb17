package project

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berthdev/berth/runtime"
	"github.com/compose-spec/compose-go/v2/types"
)

func secretObjects(p *Project) map[string]types.FileObjectConfig {
	out := map[string]types.FileObjectConfig{}
	for k, v := range p.Secrets {
		out[k] = types.FileObjectConfig(v)
	}
	return out
}

func configObjects(p *Project) map[string]types.FileObjectConfig {
	out := map[string]types.FileObjectConfig{}
	for k, v := range p.Configs {
		out[k] = types.FileObjectConfig(v)
	}
	return out
}

// secretsDir holds a container's materialised secrets and configs.
func (e *Engine) secretsDir(project, id string) string {
	return filepath.Join(e.runtime.Root(), "projects", project, "secrets", id)
}

// attachSecrets materialises secrets and configs into a per-container
// directory (so uid/gid/mode never change the host's files) and mounts
// them read-only: secrets at /run/secrets/<name>, configs at /<name>,
// unless a target says otherwise.
func (e *Engine) attachSecrets(p *Project, s types.ServiceConfig, spec *runtime.Spec, targets map[string]bool) error {
	type ref struct {
		kind string
		r    types.FileReferenceConfig
		obj  types.FileObjectConfig
	}
	var refs []ref
	for _, r := range s.Secrets {
		obj, ok := p.Secrets[r.Source]
		if !ok {
			return &ValidationError{Service: s.Name, Field: "secrets", Msg: fmt.Sprintf("secret %q is not declared under the top-level secrets:", r.Source)}
		}
		refs = append(refs, ref{"secret", types.FileReferenceConfig(r), types.FileObjectConfig(obj)})
	}
	for _, r := range s.Configs {
		obj, ok := p.Configs[r.Source]
		if !ok {
			return &ValidationError{Service: s.Name, Field: "configs", Msg: fmt.Sprintf("config %q is not declared under the top-level configs:", r.Source)}
		}
		refs = append(refs, ref{"config", types.FileReferenceConfig(r), types.FileObjectConfig(obj)})
	}
	if len(refs) == 0 {
		return nil
	}
	dir := e.secretsDir(p.Name, spec.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for i, r := range refs {
		var content []byte
		switch {
		case r.obj.File != "":
			b, err := os.ReadFile(r.obj.File)
			if err != nil {
				return fmt.Errorf("service %q: %s %q: %w", s.Name, r.kind, r.r.Source, err)
			}
			content = b
		case r.obj.Environment != "":
			content = []byte(p.Environment[r.obj.Environment])
		case r.obj.Content != "":
			content = []byte(r.obj.Content)
		case bool(r.obj.External):
			return &ValidationError{Service: s.Name, Field: r.kind + "s", Msg: fmt.Sprintf("external %s %q is not supported by berth", r.kind, r.r.Source)}
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
		mode := os.FileMode(0o444)
		if r.r.Mode != nil {
			mode = os.FileMode(*r.r.Mode)
		}
		file := filepath.Join(dir, fmt.Sprintf("%s-%d", r.kind, i))
		if err := os.WriteFile(file, content, 0o600); err != nil {
			return err
		}
		uid, gid := -1, -1
		if r.r.UID != "" {
			uid, _ = strconv.Atoi(r.r.UID)
		}
		if r.r.GID != "" {
			gid, _ = strconv.Atoi(r.r.GID)
		}
		if uid >= 0 || gid >= 0 {
			if err := os.Chown(file, uid, gid); err != nil {
				return err
			}
		}
		if err := os.Chmod(file, mode); err != nil {
			return err
		}
		if !targets[target] {
			spec.Mounts = append(spec.Mounts, runtime.Mount{Type: "bind", Source: file, Target: target, ReadOnly: true})
			targets[target] = true
		}
	}
	return nil
}
