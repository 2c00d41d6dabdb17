package project

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// precheck reads what compose-go reports without naming the service or
// the field (port mappings), and reports it as a ValidationError.
func precheck(file string, content []byte) error {
	var doc struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(content, &doc); err != nil {
		return nil // compose-go reports syntax errors with their line
	}
	names := slices.Sorted(maps.Keys(doc.Services))
	var errs []error
	for _, name := range names {
		ports, _ := doc.Services[name]["ports"].([]any)
		for i, p := range ports {
			var s string
			switch v := p.(type) {
			case string:
				s = v
			case int:
				s = fmt.Sprint(v)
			default:
				continue // long syntax: compose-go's schema checks it
			}
			if strings.Contains(s, "$") {
				continue // known only once interpolated; compose-go checks it then
			}
			if _, err := types.ParsePortConfig(s); err != nil {
				errs = append(errs, &ValidationError{File: file, Service: name, Field: fmt.Sprintf("ports[%d]", i),
					Msg: fmt.Sprintf("%q is not a port mapping (want [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. \"8080:80\")", s)})
			}
		}
	}
	return errors.Join(errs...)
}
