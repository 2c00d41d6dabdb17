package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// YAML is the object as kubectl reads it, keys in order, without the
// empty status and defaults that the API types write and a manifest does
// not need.
func (o Object) YAML() ([]byte, error) {
	b, err := json.Marshal(o.Object)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	delete(m, "status")
	prune(m)
	out, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	return out, nil
}

// emptyMeaningless are the fields an empty value of which means nothing;
// elsewhere an empty object can mean something (emptyDir: {}).
var emptyMeaningless = map[string]bool{
	"creationTimestamp": true, "resources": true, "strategy": true, "updateStrategy": true,
	"metadata": true,
}

func prune(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			prune(val)
			if !emptyMeaningless[k] {
				continue
			}
			if val == nil {
				delete(t, k)
			} else if mv, ok := val.(map[string]any); ok && len(mv) == 0 {
				delete(t, k)
			}
		}
	case []any:
		for _, e := range t {
			prune(e)
		}
	}
}

// WriteStream writes every object to w, as one YAML stream.
func (x *Export) WriteStream(w io.Writer) error {
	var buf bytes.Buffer
	for i, o := range x.Objects {
		b, err := o.YAML()
		if err != nil {
			return err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// FileName is the file an object is written to in a directory:
// NAME-KIND.yaml.
func (o Object) FileName() string {
	return o.Name + "-" + strings.ToLower(o.Kind) + ".yaml"
}

// WriteDir writes each object to a file of its own in dir (made if
// missing), `kubectl apply -f DIR` style, and returns the files' paths.
// A Secret's file is readable by its owner only.
func (x *Export) WriteDir(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, o := range x.Objects {
		b, err := o.YAML()
		if err != nil {
			return files, err
		}
		mode := os.FileMode(0o644)
		if o.Kind == "Secret" {
			mode = 0o600
		}
		path := filepath.Join(dir, o.FileName())
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
		if err != nil {
			return files, err
		}
		// An older file of the same name keeps its mode on O_TRUNC.
		err = f.Chmod(mode)
		if _, werr := f.Write(b); err == nil {
			err = werr
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return files, fmt.Errorf("writing %s: %w", path, err)
		}
		files = append(files, path)
	}
	return files, nil
}
