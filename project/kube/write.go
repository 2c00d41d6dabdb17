package kube

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v4"
)

// YAML is the object as kubectl reads it.
func (o Object) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(o.Object); err != nil {
		return nil, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	return buf.Bytes(), nil
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
