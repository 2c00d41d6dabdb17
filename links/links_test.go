package links

import (
	"net"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestLinkEnv(t *testing.T) {
	got := LinkEnv("web-1", LinkTarget{
		Alias: "db", ContainerName: "p-db-1", IP: "10.0.0.2",
		Ports: []string{"5432/tcp", "53/udp"}, Env: []string{"PATH=/bin", "POSTGRES_USER=app"},
	})
	want := []string{
		"DB_NAME=/web-1/db",
		"DB_PORT=udp://10.0.0.2:53",
		"DB_PORT_53_UDP=udp://10.0.0.2:53",
		"DB_PORT_53_UDP_ADDR=10.0.0.2",
		"DB_PORT_53_UDP_PORT=53",
		"DB_PORT_53_UDP_PROTO=udp",
		"DB_PORT_5432_TCP=tcp://10.0.0.2:5432",
		"DB_PORT_5432_TCP_ADDR=10.0.0.2",
		"DB_PORT_5432_TCP_PORT=5432",
		"DB_PORT_5432_TCP_PROTO=tcp",
		"DB_ENV_POSTGRES_USER=app",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if env := LinkEnv("w", LinkTarget{Alias: "my-db.1", IP: "1.2.3.4"}); env[0] != "MY_DB_1_NAME=/w/my-db.1" {
		t.Errorf("alias with punctuation: %v", env)
	}
}

func TestHostsEntries(t *testing.T) {
	web := &Sandbox{ContainerID: "w", ContainerName: "p-web-1", Service: "web", Number: 1, Hostname: "webhost",
		Endpoints: []Endpoint{{Network: "p_front", IP: "10.1.0.2"}}, Links: []string{"api:backend"}, ExtraHosts: []string{"gw:10.9.9.9"}}
	api1 := &Sandbox{ContainerID: "a1", ContainerName: "p-api-1", Service: "api", Number: 1,
		Endpoints: []Endpoint{{Network: "p_front", IP: "10.1.0.3", Aliases: []string{"svc"}}}}
	api2 := &Sandbox{ContainerID: "a2", ContainerName: "p-api-2", Service: "api", Number: 2,
		Endpoints: []Endpoint{{Network: "p_front", IP: "10.1.0.4", Aliases: []string{"svc"}}}}
	hidden := &Sandbox{ContainerID: "h", ContainerName: "p-db-1", Service: "db", Number: 1,
		Endpoints: []Endpoint{{Network: "p_back", IP: "10.2.0.2"}}}
	all := []*Sandbox{web, api1, api2, hidden}
	full := strings.Join(HostsEntries(web, all), "\n")
	for _, want := range []string{"10.1.0.2\twebhost", "10.1.0.3\tp-api-1 api api-1 api_1 svc backend", "10.1.0.4\tp-api-2 api api-2 api_2 svc backend", "10.9.9.9\tgw"} {
		if !strings.Contains(full, want) {
			t.Errorf("names lack %q:\n%s", want, full)
		}
	}
	if strings.Contains(full, "10.2.0.2") {
		t.Error("a container on a network not shared is listed")
	}
	file := strings.Join(HostsFileEntries(web, all), "\n")
	if strings.Contains(file, " api ") || strings.Contains(file, "svc") || strings.Contains(file, "backend") {
		t.Errorf("the hosts file lists names with several addresses:\n%s", file)
	}
	if !strings.Contains(file, "p-api-2 api-2 api_2") {
		t.Errorf("the hosts file lacks single-address names:\n%s", file)
	}
}

func TestAllocateSubnetAvoidsUsed(t *testing.T) {
	m := &Manager{root: t.TempDir()}
	_, m.Pool, _ = net.ParseCIDR("10.213.0.0/16")
	n := &Network{FullName: "x"}
	if err := m.allocateSubnet(n, "", ""); err != nil {
		t.Fatal(err)
	}
	_, sn, _ := net.ParseCIDR(n.Subnet)
	for _, u := range m.usedSubnets() {
		if overlaps(sn, u) {
			t.Errorf("allocated %s overlaps %s in use", sn, u)
		}
	}
	if n.Gateway != nthIP(sn, 1).String() {
		t.Errorf("gateway %s of %s", n.Gateway, n.Subnet)
	}
	explicit := &Network{FullName: "y"}
	if err := m.allocateSubnet(explicit, "192.168.213.0/24", "192.168.213.254"); err != nil {
		t.Fatal(err)
	}
	if explicit.Gateway != "192.168.213.254" {
		t.Errorf("explicit gateway: %s", explicit.Gateway)
	}
	if err := m.allocateSubnet(&Network{}, "192.168.214.0/24", "10.0.0.1"); err == nil {
		t.Error("a gateway outside its subnet was accepted")
	}
}

func TestAllocateIPSkipsTaken(t *testing.T) {
	m := &Manager{root: t.TempDir()}
	n := &Network{Project: "p", FullName: "p_default", Subnet: "10.50.0.0/29", Gateway: "10.50.0.1"}
	st := &projectState{Networks: map[string]*Network{"default": n}, Sandboxes: map[string]*Sandbox{
		"a": {Endpoints: []Endpoint{{Network: "p_default", IP: "10.50.0.2"}}},
	}}
	var got []string
	for i := 0; i < 4; i++ {
		ip, err := m.allocateIP(n, st)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip)
		st.Sandboxes[ip] = &Sandbox{Endpoints: []Endpoint{{Network: "p_default", IP: ip}}}
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, []string{"10.50.0.3", "10.50.0.4", "10.50.0.5", "10.50.0.6"}) {
		t.Errorf("allocated %v", got)
	}
	if _, err := m.allocateIP(n, st); err == nil {
		t.Error("a full /29 still gave an address")
	}
	if err := m.checkIP(n, st, "10.50.0.4"); err == nil {
		t.Error("a taken fixed address was accepted")
	}
	if err := m.checkIP(n, st, "10.60.0.4"); err == nil {
		t.Error("an address outside the subnet was accepted")
	}
}

func TestBridgeNamesFitAndDiffer(t *testing.T) {
	a := &Manager{root: "/r1"}
	b := &Manager{root: "/r2"}
	names := map[string]bool{}
	for _, n := range []string{a.bridgeName("p", "default"), a.bridgeName("p", "other"), a.bridgeName("q", "default"), b.bridgeName("p", "default")} {
		if len(n) > 15 {
			t.Errorf("%s is longer than 15 characters", n)
		}
		if names[n] {
			t.Errorf("%s collides", n)
		}
		names[n] = true
	}
	if v := vethName("0123456789abcdef", 3); len(v) > 15 {
		t.Errorf("veth name %s too long", v)
	}
	if a.projectChain("p", "dnat") == b.projectChain("p", "dnat") {
		t.Error("two roots share a project's chain")
	}
}
