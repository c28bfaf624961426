package store

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// cleanLoop watches disk usage and applies retention.
func (s *Store) cleanLoop(ctx context.Context) {
	defer s.wg.Done()
	hours, _ := ParseDeleteWhen(s.opts.DeleteWhen)
	t := time.NewTicker(s.opts.CleanInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ratio := s.checkDisk()
		now := s.opts.Now()
		if slices.Contains(hours, now.Hour()) || ratio >= s.opts.DiskCleanRatio {
			forcibly := s.opts.CleanForcibly && ratio >= s.opts.DiskMaxUsedSpaceRatio
			if n := s.DeleteExpired(now, forcibly); n > 0 {
				s.checkDisk()
			}
		}
	}
}

// checkDisk updates the disk-full flag and returns the used ratio.
func (s *Store) checkDisk() float64 {
	du, err := s.fs.DiskUsage(s.opts.CommitLogDir)
	if err != nil {
		s.log.Warn("disk usage unknown", "err", err)
		return 0
	}
	ratio := du.UsedRatio()
	full := ratio >= s.opts.DiskMaxUsedSpaceRatio
	if full {
		s.setDiskFull(fmt.Sprintf("disk usage %.1f%% is above diskMaxUsedSpaceRatio %.0f%%", ratio*100, s.opts.DiskMaxUsedSpaceRatio*100))
	}
	if was := s.diskFull.Swap(full); was != full {
		if full {
			s.log.Error("disk usage above diskMaxUsedSpaceRatio: refusing appends", "used", ratio, "limit", s.opts.DiskMaxUsedSpaceRatio)
		} else {
			s.log.Info("disk usage back below diskMaxUsedSpaceRatio: accepting appends", "used", ratio)
		}
	}
	return ratio
}

// DeleteExpired deletes commit-log segments last written more than
// fileReservedTime before now (oldest first, never the active one), or, when
// forcibly is set, the oldest segment regardless of age. It then drops
// consume-queue and index files that only point into deleted segments, and
// returns the number of commit-log segments deleted.
func (s *Store) DeleteExpired(now time.Time, forcibly bool) int {
	n := 0
	const maxPerPass = 10
	for n < maxPerPass {
		segs := s.clog.Segments()
		if len(segs) <= 1 || segs[0].End() > s.dispatched.Load() {
			break // never delete the active segment or undispatched data
		}
		st, err := s.fs.Stat(segs[0].Path())
		if err != nil {
			s.log.Warn("retention: stat failed", "segment", segs[0].Path(), "err", err)
			break
		}
		expired := now.Sub(st.ModTime()) >= s.opts.FileReservedTime
		if !expired && !(forcibly && n == 0) {
			break
		}
		if err := s.clog.RemoveFirst(); err != nil {
			s.log.Error("retention: delete failed", "segment", segs[0].Path(), "err", err)
			break
		}
		s.log.Info("retention: deleted commit-log segment", "segment", segs[0].Path(), "expired", expired)
		n++
	}
	if n == 0 {
		return 0
	}
	min := s.clog.MinOffset()
	for _, q := range s.allQueues() {
		if _, err := q.DeleteBefore(min); err != nil {
			s.log.Error("retention: consume queue cleanup failed", "topic", q.Topic, "queue", q.QueueID, "err", err)
		}
	}
	if _, err := s.idx.DeleteBefore(min); err != nil {
		s.log.Error("retention: index cleanup failed", "err", err)
	}
	return n
}

// setDiskFull refuses appends, saying why.
func (s *Store) setDiskFull(why string) {
	s.diskFullWhy.Store(&why)
	s.diskFull.Store(true)
}
