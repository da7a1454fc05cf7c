package checkpoint

import "time"

// checkpointSchedule says when checkpoints and table maintenance are due:
// a checkpoint every interval after the last one ended (made or failed),
// whatever forced one meanwhile (a revocation, a partition the open
// instant does not list, the shutdown); maintenance after every
// maintainEvery-th checkpoint; the workers roll idle files every quarter
// interval (at least every second).
//
// Guarded by Coordinator.mu: Run reads it between polls (due), and the
// checkpoints, on Run's goroutine or in Revoked, update it.
type checkpointSchedule struct {
	interval      time.Duration
	maintainEvery int // 0: never
	now           func() time.Time

	nextDue     time.Time // when the next checkpoint is due
	maintainDue bool      // maintenance is due (Run does it outside the lock)
}

func newCheckpointSchedule(o options) checkpointSchedule {
	return checkpointSchedule{interval: o.interval, maintainEvery: o.maintainEvery, now: o.now}
}

// start schedules the first checkpoint one interval from now (Run).
func (s *checkpointSchedule) start() { s.nextDue = s.now().Add(s.interval) }

// due is when the next checkpoint is due.
func (s *checkpointSchedule) due() time.Time { return s.nextDue }

// isDue reports whether the next checkpoint is due now.
func (s *checkpointSchedule) isDue() bool { return !s.now().Before(s.nextDue) }

// ended schedules the next checkpoint one interval after one ended, made,
// skipped or failed.
func (s *checkpointSchedule) ended() { s.nextDue = s.now().Add(s.interval) }

// committed records that a checkpoint was committed; next is the ID of the
// checkpoint that follows it. Every maintainEvery-th, maintenance is due.
func (s *checkpointSchedule) committed(next int64) {
	if s.maintainEvery > 0 && next%int64(s.maintainEvery) == 0 {
		s.maintainDue = true
	}
}

// takeMaintenance reports whether maintenance is due and may run (ok: the
// step succeeded), and clears it either way.
func (s *checkpointSchedule) takeMaintenance(ok bool) bool {
	due := s.maintainDue && ok
	s.maintainDue = false
	return due
}

// slow reports whether a checkpoint that took elapsed is slow: longer than
// half the interval.
func (s *checkpointSchedule) slow(elapsed time.Duration) bool { return elapsed > s.interval/2 }

// rollEvery is how often the workers roll idle files.
func (s *checkpointSchedule) rollEvery() time.Duration { return max(time.Second, s.interval/4) }
