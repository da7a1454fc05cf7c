package hudi

// Fencing tells a process's own instants from everyone else's by what the
// process remembers (ingestd opens one Table per process), not by the
// writer ID an inflight file carries: two processes share a writer ID when
// a pod is replaced while its predecessor is only paused (GC, SIGSTOP) or
// when replicas keep the default host-name ID, and a new owner that
// skipped the instants carrying its own ID would leave a paused
// predecessor free to commit after the offsets were read. Nothing of this
// is on disk, so tables of earlier versions need nothing: a Table's open
// instants die with the process, and instant times are unique
// (put-if-absent of the requested file), so a time in the set is this
// Table's alone.

// markOpen records that this Table opened instant ts for writerID; call
// it once the requested file is created.
func (t *Table) markOpen(ts, writerID string) {
	t.mu.Lock()
	t.opened[ts] = writerID
	t.mu.Unlock()
}

// markClosed forgets ts: the instant is settled, or this process no longer
// stands behind it (Close), so that FenceOthers and Recover treat it like
// any other process's instant.
func (t *Table) markClosed(ts string) {
	t.mu.Lock()
	delete(t.opened, ts)
	t.mu.Unlock()
}

// isOpen reports whether this Table opened ts for writerID and still has
// it open. Writers with other IDs sharing one Table (tests, several
// writers in one process) still fence each other.
func (t *Table) isOpen(ts, writerID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.opened[ts]
	return ok && w == writerID
}
