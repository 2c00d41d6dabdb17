package runtime

// InitPath is where berth's minimal init is mounted in containers that ask
// for `init: true`.
const InitPath = "/dev/init"

// MonitorCommand is the hidden subcommand of the berth binary that runs a
// keeper, the process that watches detached containers; the CLI (and test
// binaries) must dispatch it to RunKeeper.
const MonitorCommand = "container-monitor"

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
