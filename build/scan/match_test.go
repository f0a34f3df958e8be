package scan

import (
	"testing"

	"github.com/google/osv-scalibr/semantic"
	"github.com/stretchr/testify/require"
)

func intro(v string) osvEvent { return osvEvent{Introduced: v} }
func fix(v string) osvEvent   { return osvEvent{Fixed: v} }
func last(v string) osvEvent  { return osvEvent{LastAffected: v} }

// Version ranges per ecosystem, with the comparisons a naive string or
// dotted-number compare gets wrong.
func TestInRange(t *testing.T) {
	for _, tc := range []struct {
		name, eco, version string
		events             []osvEvent
		want               bool
		wantFixed          string
	}{
		{"dpkg before the fix", "Debian", "1.9.13p3-1+deb12u4", []osvEvent{intro("0"), fix("1.9.13p3-1+deb12u5")}, true, "1.9.13p3-1+deb12u5"},
		{"dpkg at the fix", "Debian", "1.9.13p3-1+deb12u4", []osvEvent{intro("0"), fix("1.9.13p3-1+deb12u4")}, false, ""},
		{"dpkg u15 is past u9", "Debian", "7.88.1-10+deb12u15", []osvEvent{intro("0"), fix("7.88.1-10+deb12u9")}, false, ""},
		{"dpkg u15 is before u16", "Debian", "7.88.1-10+deb12u15", []osvEvent{intro("0"), fix("7.88.1-10+deb12u16")}, true, "7.88.1-10+deb12u16"},
		{"dpkg epoch wins", "Debian", "1:2.39.5-0+deb12u3", []osvEvent{intro("0"), fix("2.40.0-1")}, false, ""},
		{"dpkg tilde sorts first", "Debian", "1.0~rc1-1", []osvEvent{intro("0"), fix("1.0-1")}, true, "1.0-1"},
		{"npm inside", "npm", "2026.8.31", []osvEvent{intro("2025.1.0"), fix("2026.9.1")}, true, "2026.9.1"},
		{"npm numeric not string", "npm", "2026.8.31", []osvEvent{intro("0"), fix("2026.8.4")}, false, ""},
		{"npm before introduced", "npm", "2026.8.31", []osvEvent{intro("2026.9.0"), fix("2026.9.1")}, false, ""},
		{"npm prerelease before release", "npm", "1.0.0-beta.2", []osvEvent{intro("0"), fix("1.0.0")}, true, "1.0.0"},
		{"npm last_affected inclusive", "npm", "2026.8.31", []osvEvent{intro("0"), last("2026.8.31")}, true, ""},
		{"npm past last_affected", "npm", "2026.8.31", []osvEvent{intro("0"), last("2026.8.30")}, false, ""},
		{"npm second stretch", "npm", "3.1.0", []osvEvent{intro("1.0.0"), fix("1.2.0"), intro("3.0.0"), fix("3.2.0")}, true, "3.2.0"},
		{"npm between stretches", "npm", "2.0.0", []osvEvent{intro("3.0.0"), fix("3.2.0"), intro("1.0.0"), fix("1.2.0")}, false, ""},
		{"pypi pip before 23.3", "PyPI", "23.0.1", []osvEvent{intro("0"), fix("23.3")}, true, "23.3"},
		{"pypi rc before final", "PyPI", "1.0rc1", []osvEvent{intro("0"), fix("1.0")}, true, "1.0"},
		{"pypi post after final", "PyPI", "1.0.post1", []osvEvent{intro("0"), fix("1.0")}, false, ""},
		{"pypi epoch", "PyPI", "2.0", []osvEvent{intro("1!0.1")}, false, ""},
		{"pypi 1.10 after 1.9", "PyPI", "1.10", []osvEvent{intro("0"), fix("1.9")}, false, ""},
		{"go inside", "Go", "0.17.0", []osvEvent{intro("0"), fix("0.17.1")}, true, "0.17.1"},
		{"go 1.10 after 1.9", "Go", "1.10.0", []osvEvent{intro("0"), fix("1.9.0")}, false, ""},
		{"open range", "Go", "9.9.9", []osvEvent{intro("1.0.0")}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := semantic.Parse(tc.version, tc.eco)
			require.NoError(t, err)
			got, fixed, err := inRange(v, tc.eco, tc.events)
			require.NoError(t, err)
			require.Equal(t, tc.want, got, "inRange(%s %s)", tc.eco, tc.version)
			require.Equal(t, tc.wantFixed, fixed)
		})
	}
}

func TestFromPURL(t *testing.T) {
	for _, tc := range []struct {
		purl        string
		eco, rel, v string
		names       []string
		ok          bool
	}{
		{"pkg:deb/debian/sudo@1.9.13p3-1%2Bdeb12u4?arch=amd64&distro=debian-12", "Debian", "12", "1.9.13p3-1+deb12u4", []string{"sudo"}, true},
		{"pkg:deb/debian/git@2.39.5-0%2Bdeb12u3?arch=amd64&epoch=1&distro=debian-12.8", "Debian", "12", "1:2.39.5-0+deb12u3", []string{"git"}, true},
		{"pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u15?upstream=curl&distro=debian-12", "Debian", "12", "7.88.1-10+deb12u15", []string{"libcurl4", "curl"}, true},
		{"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31", "npm", "", "2026.8.31", []string{"@modelcontextprotocol/server-filesystem"}, true},
		{"pkg:pypi/Zope.Interface@6.0", "PyPI", "", "6.0", []string{"zope-interface"}, true},
		{"pkg:golang/golang.org/x/net@v0.17.0", "Go", "", "0.17.0", []string{"golang.org/x/net"}, true},
		{"pkg:apk/alpine/musl@1.2.4-r2", "", "", "1.2.4-r2", nil, false},
		{"pkg:npm/left-pad", "npm", "", "", []string{"left-pad"}, false},
	} {
		t.Run(tc.purl, func(t *testing.T) {
			o, ok, err := fromPURL(tc.purl)
			require.NoError(t, err)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.eco, o.ecosystem)
			require.Equal(t, tc.rel, o.release)
			require.Equal(t, tc.v, o.version)
			require.Equal(t, tc.names, o.names)
		})
	}
	_, _, err := fromPURL("not a purl")
	require.Error(t, err)
}
