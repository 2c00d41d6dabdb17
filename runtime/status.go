package runtime

import "time"

// Status is a container's life-cycle state, named as Docker names them.
type Status string

// Container states.
const (
	StatusCreated    Status = "created"
	StatusRunning    Status = "running"
	StatusPaused     Status = "paused"
	StatusRestarting Status = "restarting"
	StatusExited     Status = "exited"
	StatusDead       Status = "dead"
)

// Health states of a container with a health check.
const (
	HealthNone      = ""
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// record is what the monitor (or a foreground run) writes to
// containers/<id>/status.json; it is replaced atomically on every change.
type record struct {
	Status       Status    `json:"status"`
	Pid          int       `json:"pid,omitempty"`
	PidStart     uint64    `json:"pid_start,omitempty"` // start time of Pid, guards against reuse
	MonitorPid   int       `json:"monitor_pid,omitempty"`
	MonitorStart uint64    `json:"monitor_start,omitempty"`
	ExitCode     int       `json:"exit_code"`
	Error        string    `json:"error,omitempty"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
	RestartCount int       `json:"restart_count,omitempty"`
	Health       string    `json:"health,omitempty"`
	HealthLog    []Probe   `json:"health_log,omitempty"`
	FailingCount int       `json:"failing_streak,omitempty"`
	// OutputPipes are the inode numbers of the pipes the running init
	// writes its stdout and stderr to, for a monitor that replaces a lost
	// one to read them again.
	OutputPipes [2]uint64 `json:"output_pipes,omitzero"`
}

// Probe is the result of one health check run.
type Probe struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	ExitCode int       `json:"exit_code"`
	Output   string    `json:"output"`
}
