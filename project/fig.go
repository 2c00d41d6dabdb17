package project

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Fig-era files (fig.yml, and any compose file in the version-1 format)
// put services at the top level, with no `services:` key. convertFig
// rewrites them into the compose format before compose-go reads them:
//
//	net: host|none|bridge      -> network_mode
//	net: container:X           -> network_mode: service:X when X is a service
//	dockerfile: F              -> build: {context: <build>, dockerfile: F}
//	volumes_from: [X]          -> kept (a service name; container:X too)
//	links, external_links      -> kept
//
// A file that is not in the version-1 format is returned unchanged. An
// override of a Fig file (overridesFig) is Fig too when its top level is
// service mappings, even without an image or a build: `-f fig.yml -f
// override.yml` with `web: {command: ...}` in the override.
func convertFig(filename string, content []byte, overridesFig bool) ([]byte, bool, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(content, &doc); err != nil || doc == nil {
		return content, false, nil // compose-go reports the syntax error
	}
	if !isFigFormat(filepath.Base(filename), doc) && !(overridesFig && isFigOverride(doc)) {
		return content, false, nil
	}
	services := map[string]any{}
	names := slices.Sorted(maps.Keys(doc))
	for _, name := range names {
		if name == "version" {
			continue
		}
		svc, ok := doc[name].(map[string]any)
		if !ok {
			return nil, false, &ValidationError{File: filepath.Base(filename), Service: name, Msg: "a Fig service must be a mapping of options"}
		}
		out, err := convertFigService(filepath.Base(filename), name, svc, doc)
		if err != nil {
			return nil, false, err
		}
		services[name] = out
	}
	b, err := yaml.Marshal(map[string]any{"services": services})
	return b, true, err
}

// isFigOverride: a file with no compose section whose top-level entries
// are all mappings (of service options).
func isFigOverride(doc map[string]any) bool {
	for _, k := range []string{"services", "networks", "volumes", "secrets", "configs", "include", "name"} {
		if _, ok := doc[k]; ok {
			return false
		}
	}
	for k, v := range doc {
		if strings.HasPrefix(k, "x-") || k == "version" {
			continue
		}
		if _, ok := v.(map[string]any); !ok {
			return false
		}
	}
	return len(doc) > 0
}

// isFigFormat: a fig.yml, a `version: "1"` file, or a file whose top level
// has no compose section but mappings with an image or a build.
func isFigFormat(base string, doc map[string]any) bool {
	if v, ok := doc["version"]; ok {
		if s := fmt.Sprint(v); s == "1" || s == "1.0" {
			return true
		}
	}
	for _, k := range []string{"services", "networks", "volumes", "secrets", "configs", "include", "name"} {
		if _, ok := doc[k]; ok {
			return false
		}
	}
	if strings.HasPrefix(base, "fig.") {
		return true
	}
	for k, v := range doc {
		if strings.HasPrefix(k, "x-") || k == "version" {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		_, img := m["image"]
		_, build := m["build"]
		if !img && !build {
			return false
		}
	}
	return len(doc) > 0
}

func convertFigService(file, name string, svc map[string]any, all map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range svc {
		switch k {
		case "net":
			mode := fmt.Sprint(v)
			if c, ok := strings.CutPrefix(mode, "container:"); ok {
				if _, isService := all[c]; isService {
					mode = "service:" + c
				}
			}
			out["network_mode"] = mode
		case "dockerfile":
			// merged with build below
		case "build":
			out["build"] = v
		default:
			out[k] = v
		}
	}
	if df, ok := svc["dockerfile"]; ok {
		ctx, _ := svc["build"].(string)
		if ctx == "" {
			return nil, &ValidationError{File: file, Service: name, Field: "dockerfile", Msg: "dockerfile needs build: to name the build context"}
		}
		out["build"] = map[string]any{"context": ctx, "dockerfile": fmt.Sprint(df)}
	}
	return out, nil
}
