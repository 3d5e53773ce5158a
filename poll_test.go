//go:build linux && cgo

package ringline

import (
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// A poll on a child's pidfd completes with POLLIN when the child exits.
func TestPollAddPidfd(t *testing.T) {
	r := newRing(t, RingConfig{Entries: 4})
	cmd := exec.Command("sleep", "0.05")
	must(t, cmd.Start())
	pidfd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		cmd.Wait()
		requireKernel(t, err, "pidfd_open")
	}
	closeAtEnd(t, pidfd)
	u := ud(t, TagPoll, 0, uint32(cmd.Process.Pid))
	must(t, r.SubmitPollAdd(pidfd, unix.POLLIN, u))
	c := reapOne(t, r)
	if c.UserData != u || c.Res&unix.POLLIN == 0 {
		t.Fatalf("pidfd poll completion %v res %#x, want POLLIN", c.UserData, c.Res)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
}
