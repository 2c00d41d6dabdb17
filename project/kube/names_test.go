package kube

import "testing"

func TestEscapeExpansionKeepsTheStringKubernetesWouldExpand(t *testing.T) {
	for in, want := range map[string]string{
		"plain":          "plain",
		"$HOME":          "$HOME",
		"$(HOME)":        "$$(HOME)",
		"$$(HOME)":       "$$$$(HOME)",
		"cost $5":        "cost $5",
		"$$":             "$$$",
		"a $(b) $$ $(c)": "a $$(b) $$$ $$(c)",
		"trailing $":     "trailing $",
	} {
		if got := escapeExpansion(in); got != want {
			t.Errorf("escapeExpansion(%q) = %q, want %q", in, got, want)
		}
		// Kubernetes' expansion of the escaped string gives the input back.
		if back := expandNone(escapeExpansion(in)); back != in {
			t.Errorf("%q expands to %q", escapeExpansion(in), back)
		}
	}
}

// expandNone is Kubernetes' $(VAR) expansion (third_party/forked/golang/
// expansion) with no variable defined: $$ is $, $(X) stays $(X).
func expandNone(s string) string {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '$' {
			out = append(out, '$')
			i++
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

func TestRepositoryPath(t *testing.T) {
	for in, want := range map[string]string{
		"web":                             "web:latest",
		"shop/web:1.2":                    "shop/web:1.2",
		"library/redis":                   "redis:latest",
		"ghcr.io/org/app:1":               "org/app:1",
		"localhost:5000/app":              "app:latest",
		"reg.example.com/a/b@sha256:0123": "a/b@sha256:0123",
		"host:5000/team/app:v2":           "team/app:v2",
	} {
		if got := repositoryPath(in); got != want {
			t.Errorf("repositoryPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDNSLabel(t *testing.T) {
	for in, want := range map[string]string{
		"web":   "web",
		"My_DB": "my-db",
		"_x_":   "x",
		"a.b":   "a-b",
		"__":    "",
		"a--b":  "a--b",
		"0123456789012345678901234567890123456789012345678901234567890123456789": "012345678901234567890123456789012345678901234567890123456789012",
	} {
		if got := dnsLabel(in); got != want {
			t.Errorf("dnsLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
