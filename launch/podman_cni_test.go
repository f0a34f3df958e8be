package launch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/client"
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
