// Package tasks is a registry of what each of a process's goroutine groups
// is doing, and since when, for the admin endpoint's /debug/tasks.
//
// A component registers a task for each long-lived goroutine (or unit of
// work) it owns: Register(group, name) returns a *Task whose Set records
// its current state (the time of the last change is kept) and whose Done
// removes it. ingestd registers the source's partitions ("partition 3:
// fetching"), the checkpoint coordinator ("coordinator: checkpoint 42:
// upload") and the writer workers ("worker 0: writing 512 rows").
// Snapshot lists the tasks sorted by group, then name (numbers in
// numeric order); WriteText and Handler render them as text or JSON.
//
// Everything is safe for concurrent use, and nil-safe: a nil *Registry
// registers nil tasks, and a nil *Task ignores Set and Done, so a
// component given no registry needs no checks. The package starts no
// goroutine.
package tasks
