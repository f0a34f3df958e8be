package hardening

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// MaxReportPaths bounds each path list of a Report: an image with 100k
// world-writable files must not produce a report of 100k lines. The lists
// keep their first MaxReportPaths paths in sorted order; Counts stay exact.
const MaxReportPaths = 1000

// Report lists what the hardening layer changes, by path, so a reviewer sees
// the diff. Lists are sorted and hold at most MaxReportPaths paths each
// (Truncated says some were left out); Counts has the exact numbers. Empty
// lists are omitted from JSON.
type Report struct {
	// User is the numeric UID:GID the image runs as.
	User string `json:"user"`
	// Entries is the number of paths in the merged filesystem that was read.
	Entries             int      `json:"entries"`
	SetuidCleared       []string `json:"setuidCleared,omitempty"`
	CapabilitiesDropped []string `json:"capabilitiesDropped,omitempty"`
	WorldWritableFixed  []string `json:"worldWritableFixed,omitempty"`
	DevicesRemoved      []string `json:"devicesRemoved,omitempty"`
	// SymlinksNeutralised are relative links that climbed above the root,
	// rewritten to the path a runtime resolves them to ("/a/l -> ../../x").
	SymlinksNeutralised []string `json:"symlinksNeutralised,omitempty"`
	// AbsoluteSymlinks resolve inside the container; reported, not changed.
	AbsoluteSymlinks []string `json:"absoluteSymlinks,omitempty"`
	// Removed are shells, package managers and compilers whited out.
	Removed []string `json:"removed,omitempty"`
	// UserAdded/GroupAdded say whether passwd/group entries were written;
	// HomeCreated names the home directory when it was created or chowned.
	UserAdded   bool   `json:"userAdded"`
	GroupAdded  bool   `json:"groupAdded"`
	HomeCreated string `json:"homeCreated,omitempty"`
	// Counts are the exact number of paths in each category, including
	// those beyond MaxReportPaths.
	Counts Counts `json:"counts"`
	// Truncated is true when at least one list was cut at MaxReportPaths.
	Truncated bool `json:"truncated,omitempty"`
}

// Counts are a Report's exact per-category totals.
type Counts struct {
	SetuidCleared       int `json:"setuidCleared"`
	CapabilitiesDropped int `json:"capabilitiesDropped"`
	WorldWritableFixed  int `json:"worldWritableFixed"`
	DevicesRemoved      int `json:"devicesRemoved"`
	SymlinksNeutralised int `json:"symlinksNeutralised"`
	AbsoluteSymlinks    int `json:"absoluteSymlinks"`
	Removed             int `json:"removed"`
}

// finish sorts the lists, records the exact counts and cuts every list at
// limit paths, so the report's size does not grow with the image.
func (r *Report) finish(limit int) {
	for _, c := range []struct {
		list  *[]string
		count *int
	}{
		{&r.SetuidCleared, &r.Counts.SetuidCleared},
		{&r.CapabilitiesDropped, &r.Counts.CapabilitiesDropped},
		{&r.WorldWritableFixed, &r.Counts.WorldWritableFixed},
		{&r.DevicesRemoved, &r.Counts.DevicesRemoved},
		{&r.SymlinksNeutralised, &r.Counts.SymlinksNeutralised},
		{&r.AbsoluteSymlinks, &r.Counts.AbsoluteSymlinks},
		{&r.Removed, &r.Counts.Removed},
	} {
		sort.Strings(*c.list)
		*c.count = len(*c.list)
		if len(*c.list) > limit {
			*c.list = slices.Clip((*c.list)[:limit])
			r.Truncated = true
		}
	}
}

// Summary is a one-line count of the changes, for text output.
func (r *Report) Summary() string {
	parts := []string{fmt.Sprintf("user %s", r.User)}
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	c := r.Counts
	add(c.SetuidCleared, "setuid/setgid cleared")
	add(c.CapabilitiesDropped, "file capabilities dropped")
	add(c.WorldWritableFixed, "world-writable fixed")
	add(c.DevicesRemoved, "device nodes removed")
	add(c.SymlinksNeutralised, "escaping symlinks neutralised")
	add(c.AbsoluteSymlinks, "absolute symlinks (reported)")
	add(c.Removed, "tools removed")
	if r.UserAdded {
		parts = append(parts, "passwd entry added")
	}
	if r.HomeCreated != "" {
		parts = append(parts, "home "+r.HomeCreated)
	}
	return strings.Join(parts, ", ")
}
