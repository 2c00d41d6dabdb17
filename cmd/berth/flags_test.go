package main

import (
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// isUsage reports whether err is a mistake of the command line: exit 2.
func isUsage(err error) bool { return err != nil && exitCode(io.Discard, err) == exitUsage }

func TestTimeoutFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "10", want: 10 * time.Second},
		{in: "0", want: 0},
		{in: "-1", want: -time.Second},
		{in: "5s", bad: true}, // seconds are a number, as compose's -t
		{in: "", bad: true},
		{in: "1.5", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var f timeoutFlag
			err := f.Set(tc.in)
			if tc.bad {
				if err == nil {
					t.Errorf("-t %q accepted as %v", tc.in, *f.duration())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := f.duration(); d == nil || *d != tc.want {
				t.Errorf("-t %q is %v, want %v", tc.in, d, tc.want)
			}
		})
	}
	var unset timeoutFlag
	if unset.duration() != nil {
		t.Error("an unset -t is not nil: the containers' own grace periods would be overridden")
	}
}

func TestParsePublish(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []types.ServicePortConfig
	}{
		{"8080", []types.ServicePortConfig{{Target: 8080, Protocol: "tcp", Mode: "ingress"}}},
		{"9000:80", []types.ServicePortConfig{{Target: 80, Published: "9000", Protocol: "tcp", Mode: "ingress"}}},
		{"127.0.0.1:9000:80/udp", []types.ServicePortConfig{{HostIP: "127.0.0.1", Target: 80, Published: "9000", Protocol: "udp", Mode: "ingress"}}},
		{"9000-9001:80-81", []types.ServicePortConfig{
			{Target: 80, Published: "9000", Protocol: "tcp", Mode: "ingress"},
			{Target: 81, Published: "9001", Protocol: "tcp", Mode: "ingress"},
		}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parsePublish([]string{tc.in})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("-p %q: %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"http", "80:", "1.2.3.4:x:80", "80/sctp-ish"} {
		if _, err := parsePublish([]string{bad}); !isUsage(err) {
			t.Errorf("-p %q: %v, want a usage error", bad, err)
		}
	}
}

func TestParsePrivatePort(t *testing.T) {
	if n, err := parsePrivatePort("8080", "tcp"); err != nil || n != 8080 {
		t.Errorf("port web 8080: %d %v", n, err)
	}
	if n, err := parsePrivatePort("53", "udp"); err != nil || n != 53 {
		t.Errorf("port --protocol udp dns 53: %d %v", n, err)
	}
	for _, tc := range [][2]string{{"0", "tcp"}, {"65536", "tcp"}, {"http", "tcp"}, {"80", "sctp"}, {"80/tcp", "tcp"}} {
		if _, err := parsePrivatePort(tc[0], tc[1]); !isUsage(err) {
			t.Errorf("port %s --protocol %s: %v, want a usage error", tc[0], tc[1], err)
		}
	}
}

func TestParseEnv(t *testing.T) {
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"HOME": "/root", "EMPTY": ""}[k]
		return v, ok
	}
	got, err := parseEnv([]string{"A=1", "B=", "C=x=y", "HOME", "EMPTY", "UNSET"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=1", "B=", "C=x=y", "HOME=/root", "EMPTY="}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("-e: %q, want %q (a bare KEY takes berth's own value, and is left out when unset)", got, want)
	}
	for _, bad := range []string{"=1", "", "A B=1"} {
		if _, err := parseEnv([]string{bad}, lookup); !isUsage(err) {
			t.Errorf("-e %q: %v, want a usage error", bad, err)
		}
	}
}

func TestParseVolumes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want types.ServiceVolumeConfig
	}{
		{"/data", types.ServiceVolumeConfig{Type: "volume", Target: "/data", Volume: &types.ServiceVolumeVolume{}}},
		{"cache:/var/cache", types.ServiceVolumeConfig{Type: "volume", Source: "cache", Target: "/var/cache", Volume: &types.ServiceVolumeVolume{}}},
		{"./src:/app:ro", types.ServiceVolumeConfig{Type: "bind", Source: "./src", Target: "/app", ReadOnly: true, Bind: &types.ServiceVolumeBind{CreateHostPath: true}}},
		{"/etc/hosts:/h:ro", types.ServiceVolumeConfig{Type: "bind", Source: "/etc/hosts", Target: "/h", ReadOnly: true, Bind: &types.ServiceVolumeBind{CreateHostPath: true}}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseVolumes([]string{tc.in})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
				t.Errorf("-v %q: %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", ":/x", "data:relative", "/x:"} {
		if _, err := parseVolumes([]string{bad}); !isUsage(err) {
			t.Errorf("-v %q: %v, want a usage error", bad, err)
		}
	}
}

func TestParseScalePullTail(t *testing.T) {
	if got, err := parseScale([]string{"web=3", "db=0"}); err != nil || !reflect.DeepEqual(got, map[string]int{"web": 3, "db": 0}) {
		t.Errorf("--scale: %v %v", got, err)
	}
	for _, bad := range []string{"web", "web=-1", "=2", "web=x"} {
		if _, err := parseScale([]string{bad}); !isUsage(err) {
			t.Errorf("--scale %q: %v, want a usage error", bad, err)
		}
	}
	for in, want := range map[string]string{"policy": "", "": "", "always": "always", "missing": "missing", "never": "never", "build": "build"} {
		if got, err := parsePull(in); err != nil || got != want {
			t.Errorf("--pull %q: %q %v, want %q", in, got, err, want)
		}
	}
	if _, err := parsePull("sometimes"); !isUsage(err) {
		t.Errorf("--pull sometimes: %v, want a usage error", err)
	}
	for in, want := range map[string]int{"all": -1, "0": 0, "20": 20} {
		if got, err := parseTail(in); err != nil || got != want {
			t.Errorf("--tail %q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1", "ten", "5x"} {
		if _, err := parseTail(bad); !isUsage(err) {
			t.Errorf("--tail %q: %v, want a usage error", bad, err)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"10m", now.Add(-10 * time.Minute)},
		{"1h30m", now.Add(-90 * time.Minute)},
		{"1773500000", time.Unix(1773500000, 0)},
		{"1773500000.25", time.Unix(1773500000, 250000000)},
		{"2026-03-14T15:00:00Z", time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)},
		{"2026-03-14T15:00:00+01:00", time.Date(2026, 3, 14, 14, 0, 0, 0, time.UTC)},
		{"2026-03-14T15:00:00", time.Date(2026, 3, 14, 15, 0, 0, 0, time.Local)},
		{"2026-03-14", time.Date(2026, 3, 14, 0, 0, 0, 0, time.Local)},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTimestamp("--since", tc.in, now)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("--since %q: %v, want %v", tc.in, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"yesterday", "2026-13-01", "12.x", "1.5e3"} {
		if _, err := parseTimestamp("--since", bad, now); !isUsage(err) {
			t.Errorf("--since %q: %v, want a usage error", bad, err)
		}
	}
}

func TestParseLabels(t *testing.T) {
	got, err := parseLabels("-l", []string{"a=1", "b", "c=x=y"})
	if err != nil || !reflect.DeepEqual(got, map[string]string{"a": "1", "b": "", "c": "x=y"}) {
		t.Errorf("-l: %v %v", got, err)
	}
	if _, err := parseLabels("-l", []string{"=v"}); !isUsage(err) {
		t.Errorf("-l =v: %v, want a usage error", err)
	}
}

func TestParseChanges(t *testing.T) {
	c, err := parseChanges([]string{`CMD ["/bin/sh", "-c", "echo hi"]`, "ENTRYPOINT /init", "ENV A=1", "ENV B 2", "WORKDIR /w", "USER nobody", "EXPOSE 80 53/udp", `LABEL k="v"`, "STOPSIGNAL SIGINT"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1", "B=2"}
	switch {
	case !reflect.DeepEqual(c.Cmd, []string{"/bin/sh", "-c", "echo hi"}):
		t.Errorf("CMD: %q", c.Cmd)
	case !reflect.DeepEqual(c.Entrypoint, []string{"/bin/sh", "-c", "/init"}):
		t.Errorf("ENTRYPOINT: %q", c.Entrypoint)
	case !reflect.DeepEqual(c.Env, want):
		t.Errorf("ENV: %q, want %q", c.Env, want)
	case c.WorkingDir != "/w" || c.User != "nobody" || c.StopSignal != "SIGINT" || c.Labels["k"] != "v":
		t.Errorf("config: %+v", c)
	case len(c.ExposedPorts) != 2:
		t.Errorf("EXPOSE: %v", c.ExposedPorts)
	}
	for _, bad := range []string{"RUN make", `CMD ["unterminated`} {
		if _, err := parseChanges([]string{bad}); !isUsage(err) {
			t.Errorf("--change %q: %v, want a usage error", bad, err)
		}
	}
}

func TestCheckFormat(t *testing.T) {
	if err := checkFormat("json", "table", "json"); err != nil {
		t.Error(err)
	}
	if err := checkFormat("yaml", "table", "json"); !isUsage(err) {
		t.Errorf("--format yaml: %v, want a usage error", err)
	}
}
