package hardening

import (
	"fmt"
	"sort"
	"strings"
)

// Report lists what the hardening layer changes, by path, so a reviewer sees
// the diff. Lists are sorted; empty lists are omitted from JSON.
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
}

func (r *Report) sort() {
	for _, l := range [][]string{r.SetuidCleared, r.CapabilitiesDropped, r.WorldWritableFixed,
		r.DevicesRemoved, r.SymlinksNeutralised, r.AbsoluteSymlinks, r.Removed} {
		sort.Strings(l)
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
	add(len(r.SetuidCleared), "setuid/setgid cleared")
	add(len(r.CapabilitiesDropped), "file capabilities dropped")
	add(len(r.WorldWritableFixed), "world-writable fixed")
	add(len(r.DevicesRemoved), "device nodes removed")
	add(len(r.SymlinksNeutralised), "escaping symlinks neutralised")
	add(len(r.AbsoluteSymlinks), "absolute symlinks (reported)")
	add(len(r.Removed), "tools removed")
	if r.UserAdded {
		parts = append(parts, "passwd entry added")
	}
	if r.HomeCreated != "" {
		parts = append(parts, "home "+r.HomeCreated)
	}
	return strings.Join(parts, ", ")
}
