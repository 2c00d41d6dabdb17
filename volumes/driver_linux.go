package volumes

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// checkDriverOpts accepts the local driver's options: type (tmpfs, none,
// or a file system), o (mount options; "bind" for a bind), device.
func checkDriverOpts(o map[string]string) error {
	for k := range o {
		switch k {
		case "type", "o", "device":
		default:
			return fmt.Errorf("driver_opts: %q is not one of type, o, device", k)
		}
	}
	if len(o) == 0 {
		return nil
	}
	if isBind(o) {
		if o["device"] == "" {
			return errors.New("driver_opts: a bind volume needs device: (a host directory)")
		}
		return nil
	}
	if o["type"] == "" {
		return errors.New("driver_opts: type is needed (tmpfs, or o: bind with device)")
	}
	return nil
}

func isBind(o map[string]string) bool {
	return slices.Contains(strings.Split(o["o"], ","), "bind")
}

// Prepare makes a volume's data directory ready to be mounted into a
// container: a volume with driver_opts gets its tmpfs or bind mounted on
// _data, a seeded volume its overlay (once; it stays until the volume is
// removed).
func (s *Store) Prepare(name string) (string, error) {
	v, err := s.get(name)
	if err != nil {
		return "", err
	}
	if v.Seed != "" {
		return v.Mountpoint, s.mountSeed(v)
	}
	if len(v.Options) == 0 {
		return v.Mountpoint, nil
	}
	if ok, _ := mountinfo.Mounted(v.Mountpoint); ok {
		return v.Mountpoint, nil
	}
	o := v.Options
	var opts []string
	var flags uintptr
	for _, x := range strings.Split(o["o"], ",") {
		switch x {
		case "", "bind":
		case "rbind":
			flags |= unix.MS_REC
		case "ro":
			flags |= unix.MS_RDONLY
		default:
			opts = append(opts, x)
		}
	}
	if isBind(o) {
		if _, err := os.Stat(o["device"]); err != nil {
			return "", fmt.Errorf("volume %s: device %s: %w", name, o["device"], err)
		}
		if err := unix.Mount(o["device"], v.Mountpoint, "", unix.MS_BIND|flags, ""); err != nil {
			return "", fmt.Errorf("volume %s: binding %s: %w", name, o["device"], err)
		}
		return v.Mountpoint, nil
	}
	dev := o["device"]
	if dev == "" {
		dev = o["type"]
	}
	if err := unix.Mount(dev, v.Mountpoint, o["type"], flags, strings.Join(opts, ",")); err != nil {
		return "", fmt.Errorf("volume %s: mounting %s (%s): %w", name, dev, o["type"], err)
	}
	return v.Mountpoint, nil
}

// unmountBelow detaches everything mounted at or below dir.
func unmountBelow(dir string) {
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return
	}
	slices.SortFunc(ms, func(a, b *mountinfo.Info) int { return len(b.Mountpoint) - len(a.Mountpoint) })
	for _, m := range ms {
		unix.Unmount(m.Mountpoint, unix.MNT_DETACH)
	}
}
