package listeners

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The loop's sockets are all non-blocking, so read(2), write(2), recvmmsg(2) and sendmmsg(2) never block.
// They are issued as raw system calls, without the scheduler hand-off that unix.Read and unix.Write pay
// for calls that might block (entersyscall/exitsyscall, about a tenth of a microsecond each). Only
// epoll_wait, which does block, goes through the scheduler.

var zeroByte byte

func bufPtr(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return unsafe.Pointer(&zeroByte)
	}
	return unsafe.Pointer(&p[0])
}

// readNB reads from a non-blocking fd.
func readNB(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(bufPtr(p)), uintptr(len(p)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// writeNB writes to a non-blocking fd.
func writeNB(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(bufPtr(p)), uintptr(len(p)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}
