package listeners

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The loop's sockets are all non-blocking, so recv(2), send(2), accept4(2), recvmmsg(2) and sendmmsg(2) never
// block. They are issued as raw system calls, without the scheduler hand-off that unix.Read and unix.Write pay
// for calls that might block (entersyscall/exitsyscall).

var zeroByte byte

func bufPtr(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return unsafe.Pointer(&zeroByte)
	}
	return unsafe.Pointer(&p[0])
}

// readNB reads from a non-blocking socket: recv(2) rather than read(2), which skips the file layer's
// position lock and access hooks (make bench: CPU per round trip -1% to -3%).
func readNB(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(bufPtr(p)), uintptr(len(p)),
		unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// writeNB writes to a non-blocking socket: send(2) with MSG_NOSIGNAL, so a peer that has gone away is an
// EPIPE here and not a SIGPIPE for the runtime to field.
func writeNB(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(bufPtr(p)), uintptr(len(p)),
		unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// epollWaitRaw is epoll_wait(2) as a raw system call, although it blocks. The loop goroutine owns its OS
// thread (LockOSThread) and the scheduler always has a spare P (ensureSpareP), so nothing else waits for this
// one. Through the scheduler, every wake-up of the loop paid for the runtime's monitor thread noticing a P
// "in a syscall" and waking every 20 µs to watch it; raw, the monitor backs off to 10 ms. Garbage collection
// and preemption still reach the loop: their signal interrupts epoll_wait with EINTR (a GC measured 1-2 ms
// with the loop idle). make bench: CPU per round trip -4% to -13%.
func epollWaitRaw(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(msec), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
