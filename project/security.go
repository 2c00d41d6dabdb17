package project

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthdev/berth/runtime/seccomp"
	"github.com/compose-spec/compose-go/v2/types"
)

// securityOpts is what a service's security_opt asks of its containers.
// berth applies three of Docker's options: seccomp=unconfined,
// seccomp=FILE and no-new-privileges. Any other (apparmor=, label=,
// systempaths=, ...) would be a confinement the container silently lacks,
// so it is refused before anything starts.
type securityOpts struct {
	NoNewPrivileges   bool
	SeccompUnconfined bool
	// SeccompFile is the seccomp profile's path (relative ones are the
	// project directory's), and SeccompField the entry that names it;
	// none means the default profile.
	SeccompFile  string
	SeccompField string
}

// readSecurityOpts reads a service's security_opt, reporting through bad
// each entry berth cannot apply. As in Docker, an option's value follows
// "=" or, in the older form, ":".
func readSecurityOpts(p *Project, s types.ServiceConfig, bad func(field, msg string)) securityOpts {
	var o securityOpts
	seccompAt := ""
	for i, opt := range s.SecurityOpt {
		field := fmt.Sprintf("security_opt[%d]", i)
		key, value, ok := strings.Cut(opt, "=")
		if !ok {
			key, value, ok = strings.Cut(opt, ":")
		}
		switch key {
		case "no-new-privileges":
			switch {
			case !ok || value == "true":
				o.NoNewPrivileges = true
			case value == "false":
				o.NoNewPrivileges = false
			default:
				bad(field, fmt.Sprintf("%q: want no-new-privileges, no-new-privileges:true or no-new-privileges:false", opt))
			}
		case "seccomp":
			if seccompAt != "" {
				bad(field, fmt.Sprintf("%q: %s already chooses the seccomp profile", opt, seccompAt))
				continue
			}
			seccompAt = field
			switch value {
			case "":
				bad(field, fmt.Sprintf("%q: want seccomp=unconfined or seccomp=FILE, a profile in Docker's JSON format", opt))
			case "unconfined":
				o.SeccompUnconfined = true
			default:
				o.SeccompFile, o.SeccompField = value, field
				if !filepath.IsAbs(value) {
					o.SeccompFile = filepath.Join(p.WorkingDir, value)
				}
			}
		default:
			bad(field, fmt.Sprintf("%q: %v (berth applies seccomp=unconfined, seccomp=FILE and no-new-privileges)", opt, ErrUnsupported))
		}
	}
	return o
}

// checkSeccompFile reports a seccomp profile file that cannot be used:
// missing, not a valid profile, or given to a berth built without seccomp.
func checkSeccompFile(o securityOpts) string {
	if o.SeccompFile == "" {
		return ""
	}
	if !seccomp.Supported() {
		return fmt.Sprintf("seccomp profile %s: this berth was built without seccomp support (the seccomp build tag)", o.SeccompFile)
	}
	data, err := os.ReadFile(o.SeccompFile)
	if err != nil {
		return fmt.Sprintf("seccomp profile %s: %v", o.SeccompFile, err)
	}
	if err := seccomp.Check(data); err != nil {
		return fmt.Sprintf("seccomp profile %s: %v", o.SeccompFile, err)
	}
	return ""
}
