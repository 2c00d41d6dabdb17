package project

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestAttachedServices(t *testing.T) {
	p := &Project{Name: "p", Services: types.Services{"web": {Name: "web"}, "db": {Name: "db"}, "cache": {Name: "cache"}}}
	for _, tc := range []struct {
		name               string
		services, noAttach []string
		want               []string
		any                bool
	}{
		{"every service", nil, nil, nil, true},
		{"the named ones", []string{"web"}, nil, []string{"web"}, true},
		{"every one but db", nil, []string{"db"}, []string{"cache", "web"}, true},
		{"named, but db", []string{"web", "db"}, []string{"db"}, []string{"web"}, true},
		{"none left", []string{"db"}, []string{"db"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, any := attachedServices(p, tc.services, tc.noAttach)
			if !reflect.DeepEqual(got, tc.want) || any != tc.any {
				t.Errorf("got %v %v, want %v %v", got, any, tc.want, tc.any)
			}
		})
	}
}

func TestAttachCheck(t *testing.T) {
	p := &Project{Name: "p", Services: types.Services{"tests": {Name: "tests"}}}
	a := AttachOptions{ExitCodeFrom: "tests"}
	if err := a.check(p, nil); err != nil || !a.AbortOnExit {
		t.Errorf("--exit-code-from tests: %v, abort %v; it implies --abort-on-container-exit", err, a.AbortOnExit)
	}
	a = AttachOptions{ExitCodeFrom: "tset"}
	if err := a.check(p, nil); !errors.Is(err, ErrNoService) {
		t.Errorf("--exit-code-from tset: %v, want ErrNoService", err)
	}
}

func TestServicePath(t *testing.T) {
	for _, tc := range []struct {
		in, service, path string
		ok                bool
	}{
		{"web:/etc/hosts", "web", "/etc/hosts", true},
		{"web:", "web", "", true},
		{"./web:/x", "", "", false}, // a host path with a colon
		{"/tmp/a", "", "", false},
		{":/x", "", "", false},
		{"-", "", "", false},
	} {
		s, p, ok := servicePath(tc.in)
		if s != tc.service || p != tc.path || ok != tc.ok {
			t.Errorf("%q: %q %q %v, want %q %q %v", tc.in, s, p, ok, tc.service, tc.path, tc.ok)
		}
	}
}

func TestPrefixLines(t *testing.T) {
	var b bytes.Buffer
	w := prefixLines("web", &b)
	w.Write([]byte("Step 1/2 : FROM bb\nStep 2/2 : RUN true\n"))
	w.Write([]byte("done\n"))
	if got, want := b.String(), "web Step 1/2 : FROM bb\nweb Step 2/2 : RUN true\nweb done\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if prefixLines("web", nil) != nil {
		t.Error("no output prefixed is still no output")
	}
}

func TestProjectNameOf(t *testing.T) {
	for dir, want := range map[string]string{
		"/src/My Shop": "myshop", "/src/shop_2": "shop_2", "/src/-._x": "x", "/src/...": "app", "/": "app",
	} {
		if got := projectNameOf(dir); got != want {
			t.Errorf("%q: %q, want %q", dir, got, want)
		}
	}
}
