// Package berthtest starts throwaway compose stacks for Go tests, in the
// test process itself: no daemon, and no berth command to shell out to.
//
// A test names its compose file and the services it needs; Up starts them,
// with their dependencies, under a project name of the stack's own,
// <project>-test-<id>, waits until they run and are healthy, and removes
// everything of the stack (containers, networks, volumes) when the test
// ends:
//
//	func TestOrders(t *testing.T) {
//		t.Parallel()
//		s := berthtest.Up(t, berthtest.Options{
//			Files:    []string{"../compose.yaml"},
//			Services: []string{"db"},
//		})
//		db, err := sql.Open("postgres", "postgres://app@"+s.Addr("db", 5432)+"/app")
//		...
//		if _, err := s.Exec(t.Context(), "db", "psql", "-U", "app", "-c", "select 1"); err != nil {
//			t.Fatal(err, s.Logs("db"))
//		}
//	}
//
// Stacks of one project do not collide, within a test binary or across
// several on one machine: fixed host ports are published on free ports
// instead (Addr gives the real address), fixed container names get the
// stack's suffix, and networks and volumes are the stack's own. External
// volumes and networks are shared, and said so in the test's log.
//
// Up fails the test at once, with a message that says what to do, when the
// test does not run as root (berth creates namespaces, mounts, bridges and
// firewall rules: `go test -exec sudo` runs it as root), and when an image
// is neither in berth's store nor can be pulled. Services that build their
// image need it built first (`berth build`): the build is not done in the
// test.
//
// Removal is guaranteed as `berth test` guarantees it: by t.Cleanup when the
// test ends, pass or fail; on SIGINT and SIGTERM, after which the test
// binary ends as the signal would have ended it; and, for a test binary that
// was killed (SIGKILL, the go test -timeout panic, a reboot), by the next
// berth command or berthtest stack on the same root, because every stack
// is marked with the process that owns it.
//
// The test binary serves as its containers' init and monitor, as the berth
// binary does: importing this package is enough, through its import of
// berth's re-execution hook, which runs before any test and returns at once
// in the test process itself. Containers run under the berth root and state
// of the berth command ($BERTH_ROOT and $BERTH_STATE, else /var/lib/berth and
// /run/berth) unless Options say otherwise, so the images berth pulled are
// there. The package needs cgo (libcontainer's namespace setup is C), which
// go test has by default where a C compiler is installed. A service with
// `init: true` runs the test binary inside its container as its init, which
// needs the binary linked statically
// (-ldflags "-linkmode external -extldflags -static").
package berthtest
