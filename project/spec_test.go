package project

import (
	"reflect"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestConfigHashIgnoresScale(t *testing.T) {
	two, three := 2, 3
	a := types.ServiceConfig{Name: "web", Scale: &two}
	a.Image = "x"
	b := types.ServiceConfig{Name: "web", Scale: &three}
	b.Image = "x"
	c := types.ServiceConfig{Name: "web"}
	c.Image = "y"
	ha, _ := ConfigHash(a)
	hb, _ := ConfigHash(b)
	hc, _ := ConfigHash(c)
	if ha != hb {
		t.Error("scaling changes the config hash")
	}
	if ha == hc {
		t.Error("a changed image keeps the config hash")
	}
}

func TestCommandMergesLikeDocker(t *testing.T) {
	img := v1.Config{Entrypoint: []string{"/entry"}, Cmd: []string{"default"}}
	svc := func(entry, cmd types.ShellCommand) types.ServiceConfig {
		var s types.ServiceConfig
		s.Entrypoint, s.Command = entry, cmd
		return s
	}
	for _, tc := range []struct {
		name string
		svc  types.ServiceConfig
		want []string
	}{
		{"image only", svc(nil, nil), []string{"/entry", "default"}},
		{"command replaces cmd", svc(nil, types.ShellCommand{"run"}), []string{"/entry", "run"}},
		{"entrypoint drops the image's cmd", svc(types.ShellCommand{"/other"}, nil), []string{"/other"}},
		{"both", svc(types.ShellCommand{"/other"}, types.ShellCommand{"x"}), []string{"/other", "x"}},
		{"empty entrypoint", svc(types.ShellCommand{}, types.ShellCommand{"sh"}), []string{"sh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := command(tc.svc, img); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
