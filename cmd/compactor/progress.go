package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lakestream/lakestream/compaction"
)

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws the run's progress on one line of a terminal.
func progressBar(w io.Writer) func(compaction.Progress) {
	return func(p compaction.Progress) {
		const width = 30
		frac := 0.0
		if p.Bytes > 0 {
			frac = float64(p.BytesDone) / float64(p.Bytes)
		}
		n := int(frac * width)
		fmt.Fprintf(w, "\r[%s%s] %d/%d groups, %d/%d files, %.1f/%.1f MB, %s ",
			strings.Repeat("#", n), strings.Repeat(" ", width-n), p.GroupsDone, p.Groups,
			p.FilesDone, p.Files, float64(p.BytesDone)/1e6, float64(p.Bytes)/1e6, p.Elapsed.Round(time.Second))
		if p.Groups > 0 && p.GroupsDone == p.Groups {
			fmt.Fprintln(w)
		}
	}
}
