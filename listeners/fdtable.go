package listeners

// fdTable maps file descriptors to their handlers. It is a list of fixed-size pages rather than one slice, so
// growing it to 100 000 connections never copies the table or leaves the old copy behind as garbage.
type fdTable struct {
	pages [][]handler
}

const fdPageSize = 1024

func (t *fdTable) get(fd int) handler {
	p := fd / fdPageSize
	if fd < 0 || p >= len(t.pages) || t.pages[p] == nil {
		return nil
	}
	return t.pages[p][fd%fdPageSize]
}

func (t *fdTable) set(fd int, h handler) {
	p := fd / fdPageSize
	for p >= len(t.pages) {
		t.pages = append(t.pages, nil)
	}
	if t.pages[p] == nil {
		if h == nil {
			return
		}
		t.pages[p] = make([]handler, fdPageSize)
	}
	t.pages[p][fd%fdPageSize] = h
}

// each calls fn for every registered handler.
func (t *fdTable) each(fn func(fd int, h handler)) {
	for p, page := range t.pages {
		for i, h := range page {
			if h != nil {
				fn(p*fdPageSize+i, h)
			}
		}
	}
}
