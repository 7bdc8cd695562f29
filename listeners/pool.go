package listeners

// bufPool is a free list of byte buffers owned by the loop goroutine. Connections take a buffer only while
// they hold unsent output or an unfinished line, so an idle connection costs only its small struct.
type bufPool struct {
	size int // a new buffer's capacity
	free [][]byte
}

// The pool keeps at most poolMaxFree buffers of at most poolMaxKeep bytes (32 MiB in the worst case, a few MiB
// in practice): enough to serve bursts without allocating, little enough that a spike does not pin memory.
const (
	poolBufSize = 16 << 10 // output and held-input buffers
	lineBufSize = 512      // unfinished lines: most are short, and a slow client may hold one per connection
	poolMaxKeep = 128 << 10
	poolMaxFree = 256
)

// get returns an empty buffer with at least p.size capacity.
func (p *bufPool) get() []byte {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, p.size)
}

// put returns b to the pool; very large buffers are left to the garbage collector.
func (p *bufPool) put(b []byte) {
	if b == nil || cap(b) > poolMaxKeep || len(p.free) >= poolMaxFree {
		return
	}
	p.free = append(p.free, b[:0])
}
