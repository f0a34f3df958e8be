package mirror

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Status renders events as live per-entry lines. On a terminal the entries
// in flight stay at the bottom and are redrawn in place, finished ones
// scroll above them; elsewhere (CI logs, files) each start, retry and
// finish is one plain line. Feed it from WithEvents, which serialises calls.
type Status struct {
	w      io.Writer
	tty    bool
	active map[int]string // index → line of entries in flight
	drawn  int            // active lines currently on screen
}

// NewStatus writes status lines to w; tty selects in-place redrawing.
func NewStatus(w io.Writer, tty bool) *Status {
	return &Status{w: w, tty: tty, active: map[int]string{}}
}

// Event takes one event.
func (s *Status) Event(ev Event) {
	prefix := fmt.Sprintf("[%*d/%d] %s", len(fmt.Sprint(ev.Total)), ev.Index, ev.Total, ev.Name)
	var done string
	switch {
	case ev.Result != nil:
		done = prefix + ": " + resultLine(ev.Result)
		delete(s.active, ev.Index)
	case ev.Phase == PhaseQueued:
		return
	default:
		line := prefix + ": " + ev.Phase
		if ev.Detail != "" {
			line += " " + ev.Detail
		}
		if !s.tty {
			if ev.Phase == PhaseHardening || ev.Phase == PhaseRetrying {
				fmt.Fprintln(s.w, line)
			}
			return
		}
		s.active[ev.Index] = line
	}
	if !s.tty {
		fmt.Fprintln(s.w, done)
		return
	}
	s.redraw(done)
}

// redraw clears the in-flight block, prints done (if any) above it and
// draws the block again.
func (s *Status) redraw(done string) {
	var b strings.Builder
	if s.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", s.drawn)
	}
	if done != "" {
		b.WriteString(done + "\n")
	}
	keys := make([]int, 0, len(s.active))
	for k := range s.active {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString("  " + s.active[k] + "\n")
	}
	s.drawn = len(keys)
	io.WriteString(s.w, b.String())
}

func resultLine(r *EntryResult) string {
	switch r.Status {
	case StatusHardened:
		return fmt.Sprintf("hardened %s (%s, %.1fs) %s", short(r.Hardened), r.Strategy, r.Seconds, r.Reason)
	case StatusSkipped:
		return fmt.Sprintf("skipped, %s", r.Reason)
	}
	return "FAILED: " + r.Reason
}

// short is sha256: and the first 12 hex digits.
func short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}
