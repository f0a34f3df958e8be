package launch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/stretchr/testify/require"
)

// cniPodman starts a private podman service whose network backend is CNI
// (common on Debian 12 and Ubuntu 22.04 installs without netavark): its own
// containers.conf, storage (vfs: nothing to unmount) and socket, so the
// dev-env service on netavark is untouched. It needs root, podman and the
// CNI plugins (hack/dev-env installs both).
func cniPodman(t *testing.T) *client.Client {
	t.Helper()
	bin, err := exec.LookPath("podman")
	if err != nil {
		testenv.Unavailable(t, "podman is not installed: run hack/dev-env up")
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		testenv.Unavailable(t, "the CNI plugins are not installed (%v): run hack/dev-env up", err)
	}
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "a private podman service needs root")
	}
	dir, err := os.MkdirTemp("", "cni") // short: unix socket paths are limited
	require.NoError(t, err)
	// Podman raises container rlimits to values this machine may not permit;
	// stay within the service's own, as hack/dev-env does.
	var nofile, nproc syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile))
	require.NoError(t, syscall.Getrlimit(6 /* RLIMIT_NPROC */, &nproc))
	np := min(nproc.Max, 32768)
	conf := filepath.Join(dir, "containers.conf")
	// Everything of its own: libpod's state dir (exit files, locks, events;
	// shared with the dev-env service it would confuse that one's container
	// waits) and the CNI network configs.
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(
		"[containers]\ndefault_ulimits = [\"nofile=%d:%d\", \"nproc=%d:%d\"]\n\n"+
			"[engine]\ntmp_dir = %q\n\n[network]\nnetwork_backend = \"cni\"\nnetwork_config_dir = %q\n",
		nofile.Max, nofile.Max, np, np, filepath.Join(dir, "tmp"), filepath.Join(dir, "cni"))), 0o644))
	sock := filepath.Join(dir, "podman.sock")
	logf, err := os.Create(filepath.Join(dir, "podman.log"))
	require.NoError(t, err)
	cmd := exec.Command("bash", "-c", `ulimit -n "$1" -u "$2" && exec "$3" --root "$4/root" --runroot "$4/run" --tmpdir "$4/tmp" --storage-driver vfs system service --time=0 "unix://$5"`,
		"podman", fmt.Sprint(nofile.Max), fmt.Sprint(np), bin, dir, sock)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+conf)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		// No `podman system reset`: it reaches beyond its --root. The runs
		// removed their containers; vfs storage leaves no mounts behind.
		_ = os.RemoveAll(dir)
	})
	c, err := client.NewClientWithOpts(client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = c.Ping(ctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("private CNI podman service did not answer within 30s: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

// TestPodmanNetworkBackend: drydock reads the backend from podman itself.
// The dev-env service runs on netavark (hack/dev-env installs and selects
// it); the private service on CNI.
func TestPodmanNetworkBackend(t *testing.T) {
	pm := podman(t)
	cni := cniPodman(t)
	ctx := context.Background()
	require.Equal(t, "netavark", podmanNetworkBackend(ctx, pm), "hack/dev-env's podman service")
	require.Equal(t, "cni", podmanNetworkBackend(ctx, cni), "the private service configured with network_backend = \"cni\"")
	require.Equal(t, "", podmanNetworkBackend(ctx, testenv.Docker(t)), "dockerd has no libpod API")
}

// TestAllowlistPodmanCNI: on podman's CNI backend an allowlist run is
// refused before anything is created, saying why and what to install,
// while a network none run of the same engine still works. (On CNI the
// egress proxy cannot resolve container names, so a server would start and
// then fail to reach its allowed hosts.)
func TestAllowlistPodmanCNI(t *testing.T) {
	w := setup(t)
	cni := cniPodman(t)
	ctx := context.Background()

	p := policies.Default()
	p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{"api.example.test:443"}}
	ref := w.image(t, "allowlist-cni", p)
	pinned := digestOf(t, ref)
	floor := policies.StrictFloor()
	floor.Network = policies.FloorNetwork{Modes: []string{policies.NetworkNone, policies.NetworkAllowlist}, Hosts: []string{"api.example.test:443"}}
	stderr := &lockedBuffer{}
	_, err := Run(ctx, ref, WithVerifier(w.signer), WithFloor(floor), WithDocker(cni), WithProxyBinary(staticDrydock(t)),
		WithCacheDir(t.TempDir()), WithStdio(strings.NewReader(""), &lockedBuffer{}, stderr))
	require.ErrorIs(t, err, ErrRefused)
	require.ErrorIs(t, err, ErrCNI)
	msg := err.Error()
	for _, want := range []string{pinned[strings.Index(pinned, "@")+1:], "allowlist", "CNI", "install netavark and aardvark-dns", `network_backend = "netavark"`} {
		require.Contains(t, msg, want)
	}
	// Nothing was created: no server, proxy or relay container, no network or volume.
	list, err := cni.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelRun+"=1"))})
	require.NoError(t, err)
	require.Empty(t, list, "no container may exist after the refusal")
	nets, err := cni.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelRun+"=1"))})
	require.NoError(t, err)
	require.Empty(t, nets, "no network may exist after the refusal")

	// network none needs nothing of the backend and still runs there.
	s := w.start(t, w.image(t, "none-cni", policies.Default()), WithDocker(cni))
	require.Equal(t, "on cni", echoText(t, s, "on cni"))
	require.NoError(t, s.stdin.Close())
	require.NoError(t, s.wait(t).err)
}
