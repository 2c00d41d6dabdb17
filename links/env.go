package links

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// LinkTarget is what a Fig link needs to know of the linked container.
type LinkTarget struct {
	Alias         string   // the name the link gives it (db)
	ContainerName string   // its container name
	IP            string   // its address on a shared network
	Ports         []string // exposed ports, "5432/tcp"
	Env           []string // its environment, KEY=VALUE
}

// LinkEnv is the legacy environment Fig and Docker links inject for a
// link: DB_PORT=tcp://ADDR:PORT (the lowest port), DB_PORT_5432_TCP,
// _ADDR, _PORT, _PROTO for each port, DB_NAME=/<consumer>/<alias>, and
// DB_ENV_<VAR> for the target's environment.
func LinkEnv(consumer string, t LinkTarget) []string {
	prefix := strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(t.Alias))
	out := []string{fmt.Sprintf("%s_NAME=/%s/%s", prefix, consumer, t.Alias)}
	type port struct {
		num   int
		proto string
	}
	var ports []port
	for _, p := range t.Ports {
		num, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		if n, err := strconv.Atoi(num); err == nil {
			ports = append(ports, port{n, proto})
		}
	}
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].num != ports[j].num {
			return ports[i].num < ports[j].num
		}
		return ports[i].proto < ports[j].proto
	})
	if len(ports) > 0 {
		out = append(out, fmt.Sprintf("%s_PORT=%s://%s:%d", prefix, ports[0].proto, t.IP, ports[0].num))
	}
	for _, p := range ports {
		k := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.num, strings.ToUpper(p.proto))
		out = append(out,
			fmt.Sprintf("%s=%s://%s:%d", k, p.proto, t.IP, p.num),
			fmt.Sprintf("%s_ADDR=%s", k, t.IP),
			fmt.Sprintf("%s_PORT=%d", k, p.num),
			fmt.Sprintf("%s_PROTO=%s", k, p.proto),
		)
	}
	skip := map[string]bool{"HOME": true, "PATH": true, "HOSTNAME": true}
	for _, e := range t.Env {
		k, v, _ := strings.Cut(e, "=")
		if skip[k] {
			continue
		}
		out = append(out, fmt.Sprintf("%s_ENV_%s=%s", prefix, k, v))
	}
	return out
}
