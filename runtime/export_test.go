package runtime

// StartSteps are the steps of starting a container after which a test can
// make it fail.
var StartSteps = []string{"rootfs mounted", "container created", "process started"}

// FailStartAt makes every start in this process fail with err after step,
// until the returned function is called. It exists for tests only.
func FailStartAt(step string, err error) (restore func()) {
	startFault = func(s string) error {
		if s == step {
			return err
		}
		return nil
	}
	return func() { startFault = nil }
}

// RemoveCgroups removes what is left of a container's cgroups.
var RemoveCgroups = removeCgroups
