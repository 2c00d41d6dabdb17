package berthtest

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// live are the stacks of this process not yet removed, which a SIGINT or
// SIGTERM removes before the process ends as the signal would have ended
// it: t.Cleanup does not run then.
var live struct {
	sync.Mutex
	stacks  map[*Stack]bool
	handler sync.Once
}

func track(s *Stack) {
	live.handler.Do(func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		go removeOnSignal(sigs)
	})
	live.Lock()
	defer live.Unlock()
	if live.stacks == nil {
		live.stacks = map[*Stack]bool{}
	}
	live.stacks[s] = true
}

func untrack(s *Stack) {
	live.Lock()
	defer live.Unlock()
	delete(live.stacks, s)
}

func removeOnSignal(sigs chan os.Signal) {
	sig := <-sigs
	live.Lock()
	var stacks []*Stack
	for s := range live.stacks {
		stacks = append(stacks, s)
	}
	live.Unlock()
	var wg sync.WaitGroup
	for _, s := range stacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Close(); err != nil {
				os.Stderr.WriteString("berthtest: " + err.Error() + "\n")
			}
		}()
	}
	wg.Wait()
	signal.Reset(syscall.SIGINT, syscall.SIGTERM)
	syscall.Kill(os.Getpid(), sig.(syscall.Signal))
}
