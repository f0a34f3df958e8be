package launch

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/versions"
	"github.com/drydock-dev/drydock/policies"
)

// engineKind says which Docker-API-compatible engine answers: the engines
// add different things to a container on their own.
type engineKind int

const (
	engineDocker engineKind = iota
	enginePodman
)

// detectEngine asks the engine who it is. Podman's compatible API names
// itself in the version's components.
func detectEngine(ctx context.Context, d Docker) engineKind {
	v, err := d.ServerVersion(ctx)
	if err != nil {
		return engineDocker
	}
	for _, c := range v.Components {
		if strings.Contains(strings.ToLower(c.Name), "podman") {
			return enginePodman
		}
	}
	return engineDocker
}

// podmanReadOnlyTmpfs are the directories podman mounts as writable tmpfs
// (exec allowed) in every read-only container ("--read-only-tmpfs", on by
// default and not switchable through the compatible API). drydock mounts
// them itself, noexec and size-capped, so podman's own mounts give way to
// the policy's kind.
var podmanReadOnlyTmpfs = []string{"/tmp", "/run", "/var/tmp"}

// podmanTmpfsSize caps each of those directories.
const podmanTmpfsSize = 16 << 20

// engineTmpfs adds the engine-specific tmpfs mounts to the policy's.
func engineTmpfs(tmpfs map[string]string, readonly bool, e engineKind) map[string]string {
	if e != enginePodman || !readonly {
		return tmpfs
	}
	t := maps.Clone(tmpfs)
	if t == nil {
		t = map[string]string{}
	}
	for _, p := range podmanReadOnlyTmpfs {
		if _, ok := t[p]; !ok {
			t[p] = policies.TmpfsOptions(podmanTmpfsSize)
		}
	}
	return t
}

// Known, harmless additions engines report. Anything else that differs
// from the policy is still a mismatch.
var (
	// harmlessTmpfsOptions are mount propagation and copy-up flags podman
	// appends to every tmpfs: they neither add exec/suid/dev rights nor
	// lift the size cap.
	harmlessTmpfsOptions = []string{"rprivate", "private", "tmpcopyup", "notmpcopyup"}
	// harmlessEnv are variables podman sets in every container, to tell
	// programs they run in a container and which terminal type to assume.
	// Values are fixed, so nothing from the host leaks through them.
	harmlessEnv = []string{"container=podman", "TERM=xterm"}
	// defaultCaps is Docker's default capability set. Asked to drop ALL,
	// podman reports the list of default capabilities it dropped instead
	// of ALL; that list must cover at least these. (Podman's inspect
	// derives CapAdd from the same sets, and CapAdd is compared exactly.)
	defaultCaps = []string{
		"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
		"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
	}
)

// sameCapDrop accepts the exact list, or podman's spelling of "ALL".
func sameCapDrop(got, want []string) bool {
	if sameSet(got, want) {
		return true
	}
	if !slices.Equal(want, []string{"ALL"}) {
		return false
	}
	for _, c := range defaultCaps {
		if !slices.Contains(got, c) && !slices.Contains(got, "CAP_"+c) {
			return false
		}
	}
	return true
}

// sameTmpfs compares mount options as sets, ignoring only the harmless
// options engines append.
func sameTmpfs(got, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for path, w := range want {
		g, ok := got[path]
		if !ok {
			return false
		}
		var gs []string
		for _, o := range strings.Split(g, ",") {
			if !slices.Contains(harmlessTmpfsOptions, o) {
				gs = append(gs, o)
			}
		}
		if !sameSet(gs, strings.Split(w, ",")) {
			return false
		}
	}
	return true
}

// sameNetworkMode accepts podman's spelling of a named network: its
// inspect reports "bridge" for any container on a bridge-driver network.
// Only allowed where the caller also compares the container's exact list
// of networks (allowlist mode's server and proxy), which is the real check.
func sameNetworkMode(got, want string, e engineKind, namedNetwork bool) bool {
	return got == want || (e == enginePodman && namedNetwork && got == "bridge")
}

// podmanNetworkBackend asks a podman service which network backend it uses
// ("netavark" or "cni") through its libpod API, which the Docker client
// does not wrap. It returns "" when the engine does not say (a test double,
// an engine that is not podman, an API that refuses).
func podmanNetworkBackend(ctx context.Context, d Docker) string {
	raw, ok := d.(interface {
		HTTPClient() *http.Client
		DaemonHost() string
	})
	if !ok {
		return ""
	}
	base := "http://podman" // the client's transport dials its Unix socket whatever the host
	if u, err := url.Parse(raw.DaemonHost()); err == nil && u.Scheme == "tcp" {
		base = "http://" + u.Host
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v4.0.0/libpod/info", nil)
	if err != nil {
		return ""
	}
	resp, err := raw.HTTPClient().Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var info struct {
		Host struct {
			NetworkBackend string `json:"networkBackend"`
		} `json:"host"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&info) != nil {
		return ""
	}
	return info.Host.NetworkBackend
}

// recursiveReadOnly says whether the engine makes a read-only bind
// read-only all the way down when asked (BindOptions.ReadOnlyForceRecursive,
// API 1.44; dockerd 20.10 and podman 4.3 speak 1.41). Unknown means no.
func recursiveReadOnly(ctx context.Context, d Docker) bool {
	v, err := d.ServerVersion(ctx)
	return err == nil && versions.GreaterThanOrEqualTo(v.APIVersion, "1.44")
}
