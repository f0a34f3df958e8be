package launch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/policies"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker is the part of the Docker Engine API that launch uses. Any
// Docker-API-compatible socket works (DOCKER_HOST).
type Docker interface {
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImagePull(ctx context.Context, ref string, options image.PullOptions) (io.ReadCloser, error)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerAttach(ctx context.Context, containerID string, options container.AttachOptions) (types.HijackedResponse, error)
	ContainerWait(ctx context.Context, containerID string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerKill(ctx context.Context, containerID, signal string) error
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	// For network mode allowlist: the proxy image and the per-run network.
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error)
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
	NetworkConnect(ctx context.Context, networkID, containerID string, config *network.EndpointSettings) error
	NetworkInspect(ctx context.Context, networkID string, options network.InspectOptions) (network.Inspect, error)
	NetworkRemove(ctx context.Context, networkID string) error
	// For allowlist mode on podman: the volume holding the proxy's socket.
	VolumeCreate(ctx context.Context, options volume.CreateOptions) (volume.Volume, error)
	VolumeRemove(ctx context.Context, volumeID string, force bool) error
	// ServerVersion tells dockerd and podman apart (see engine.go).
	ServerVersion(ctx context.Context) (types.Version, error)
	// For removing what killed allowlist runs left behind (see reap.go).
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	VolumeList(ctx context.Context, options volume.ListOptions) (volume.ListResponse, error)
}

// Labels put on every container drydock starts, so they can be found.
const (
	LabelRun   = "dev.drydock.run"
	LabelImage = "dev.drydock.image"
)

// NewDockerClient connects to the engine named by the environment.
func NewDockerClient() (*client.Client, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("connecting to the Docker engine (DOCKER_HOST): %w", err)
	}
	return c, nil
}

// hostConfig is the one place the spec becomes Docker's HostConfig.
func hostConfig(s policies.ContainerSpec, req request) *container.HostConfig {
	pids, init := s.PidsLimit, s.Init
	mode := s.NetworkMode
	if s.Egress != nil {
		// The spec only names a placeholder; the run made the real network.
		mode = req.network
	}
	return &container.HostConfig{
		ReadonlyRootfs: s.ReadonlyRootfs,
		NetworkMode:    container.NetworkMode(mode),
		CapDrop:        s.CapDrop,
		CapAdd:         s.CapAdd,
		SecurityOpt:    s.SecurityOpt,
		Resources: container.Resources{
			Memory:     s.Memory,
			MemorySwap: s.MemorySwap,
			NanoCPUs:   s.NanoCPUs,
			PidsLimit:  &pids,
		},
		Tmpfs:      engineTmpfs(s.Tmpfs, s.ReadonlyRootfs, req.engine),
		Mounts:     req.mounts,
		Init:       &init,
		AutoRemove: true,
		// The MCP stream goes over attach only: a log driver would keep a
		// copy of every request and reply (tokens included) on the host.
		LogConfig: container.LogConfig{Type: logDriverNone},
		// Asked for explicitly: the engines' defaults for these depend on
		// daemon configuration (default-ipc-mode, default-cgroupns-mode).
		IpcMode:      "private",
		CgroupnsMode: "private",
	}
}

// logDriverNone keeps no copy of the container's output; attach still works.
const logDriverNone = "none"

// plainRuntimes are the OCI runtimes that add nothing to the container.
// Another (a GPU runtime, say) configured as an engine's default may give
// the server devices or hooks the policy never asked for.
var plainRuntimes = []string{"runc", "crun"}

func containerConfig(v *Verified, args []string, req request) *container.Config {
	return &container.Config{
		Image:        v.Digest.String(),
		User:         v.Spec.User,
		Cmd:          args,
		Env:          wantEnv(v.Spec, req),
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
		OpenStdin:    true,
		// StdinOnce closes the server's stdin when our stdin ends, so an MCP
		// client that hangs up ends the server.
		StdinOnce: true,
		Labels:    map[string]string{LabelRun: "1", LabelImage: v.Digest.String()},
	}
}

// ServerFlags are the docker flags of what run applies to a server: the
// policy's translation and the settings run adds to every server (no log
// copy of the MCP stream, its own IPC and cgroup namespaces).
func ServerFlags(s policies.ContainerSpec) []string {
	return append(s.DockerFlags(), "--log-driver", logDriverNone, "--ipc", "private", "--cgroupns", "private")
}

// mismatches compares what the engine reports with what the policy asked
// for. An engine that silently drops a setting (an old API, a plugin, a
// podman quirk) must not get to run the server. The engines' own spellings
// of the same settings are rewritten first, in one place (normalise).
func mismatches(got container.InspectResponse, v *Verified, req request) []string {
	want := hostConfig(v.Spec, req)
	var out []string
	check := func(field string, ok bool, g, w any) {
		if !ok {
			out = append(out, fmt.Sprintf("%s is %v, policy wants %v", field, g, w))
		}
	}
	if got.HostConfig == nil || got.Config == nil {
		return []string{"engine returned no configuration"}
	}
	// Podman's "bridge" spelling is accepted only for a named network, never
	// in place of podman's container:<relay> (see allowlist.go).
	named := v.Spec.Egress != nil && !container.NetworkMode(req.network).IsContainer()
	hc := normalise(*got.HostConfig, want, req.engine, named)
	check("image", got.Image == v.ConfigDigest.String(), got.Image, v.ConfigDigest.String())
	check("user", got.Config.User == v.Spec.User, got.Config.User, v.Spec.User)
	check("ReadonlyRootfs", hc.ReadonlyRootfs == want.ReadonlyRootfs, hc.ReadonlyRootfs, want.ReadonlyRootfs)
	check("NetworkMode", hc.NetworkMode == want.NetworkMode, hc.NetworkMode, want.NetworkMode)
	check("CapDrop", sameSet(hc.CapDrop, want.CapDrop), hc.CapDrop, want.CapDrop)
	check("CapAdd", sameSet(hc.CapAdd, want.CapAdd), hc.CapAdd, want.CapAdd)
	check("SecurityOpt", sameSet(hc.SecurityOpt, want.SecurityOpt), hc.SecurityOpt, want.SecurityOpt)
	check("Memory", hc.Memory == want.Memory, hc.Memory, want.Memory)
	check("MemorySwap", hc.MemorySwap == want.MemorySwap, hc.MemorySwap, want.MemorySwap)
	check("NanoCpus", hc.NanoCPUs == want.NanoCPUs, hc.NanoCPUs, want.NanoCPUs)
	check("PidsLimit", hc.PidsLimit != nil && *hc.PidsLimit == *want.PidsLimit, deref(hc.PidsLimit), *want.PidsLimit)
	check("Tmpfs", maps.Equal(hc.Tmpfs, want.Tmpfs), hc.Tmpfs, want.Tmpfs)
	check("Init", hc.Init != nil && *hc.Init == *want.Init, deref(hc.Init), *want.Init)
	check("Privileged", !hc.Privileged, hc.Privileged, false)
	check("Binds", len(hc.Binds) == 0, hc.Binds, "none")
	check("Mounts", sameMounts(hc.Mounts, want.Mounts), hc.Mounts, want.Mounts)
	check("VolumesFrom", len(hc.VolumesFrom) == 0, hc.VolumesFrom, "none")
	check("Devices", len(hc.Devices) == 0, len(hc.Devices), 0)
	// Namespaces and what the engine may add by its own configuration
	// (daemon.json, containers.conf): each of these weakens the container
	// without any create option asking for it.
	check("PidMode", hc.PidMode == "", hc.PidMode, "its own namespace")
	check("IpcMode", hc.IpcMode == want.IpcMode, hc.IpcMode, want.IpcMode)
	check("UTSMode", hc.UTSMode == "", hc.UTSMode, "its own namespace")
	check("CgroupnsMode", hc.CgroupnsMode == want.CgroupnsMode, hc.CgroupnsMode, want.CgroupnsMode)
	check("UsernsMode", hc.UsernsMode == "", hc.UsernsMode, "the engine's default")
	check("Sysctls", len(hc.Sysctls) == 0, hc.Sysctls, "none")
	check("ExtraHosts", len(hc.ExtraHosts) == 0, hc.ExtraHosts, "none")
	check("Runtime", slices.Contains(plainRuntimes, hc.Runtime), hc.Runtime, plainRuntimes)
	check("DeviceRequests", len(hc.DeviceRequests) == 0, len(hc.DeviceRequests), 0)
	check("LogConfig", hc.LogConfig.Type == logDriverNone, hc.LogConfig.Type, logDriverNone)
	// The mounts the container really has: image VOLUMEs and engine
	// defaults appear here, not in HostConfig.
	check("MountPoints", sameMountPoints(got.Mounts, want.Mounts), got.Mounts, want.Mounts)
	if v.Spec.Egress != nil {
		var nets []string
		if got.NetworkSettings != nil {
			nets = slices.Sorted(maps.Keys(got.NetworkSettings.Networks))
		}
		wantNets := []string{req.network}
		if container.NetworkMode(req.network).IsContainer() {
			// Relayed (podman): the server joins the relay's namespace,
			// which has only loopback; it is on no network at all.
			wantNets = nil
		}
		check("networks", slices.Equal(nets, wantNets), nets, wantNets)
	}
	out = append(out, envMismatch(got.Config.Env, append(slices.Clone(v.imageEnv), harmlessEnv...), wantEnv(v.Spec, req))...)
	return out
}

// normalise rewrites the values an engine reports in its own spelling into
// the ones drydock asked for, where both mean the same; every other value
// is left as reported, so that mismatches sees it differ. It returns a copy.
func normalise(hc container.HostConfig, want *container.HostConfig, e engineKind, namedNetwork bool) container.HostConfig {
	// Podman reports "drop ALL" as the default capabilities it dropped, and
	// appends harmless options to every tmpfs (see engine.go).
	if sameCapDrop(hc.CapDrop, want.CapDrop) {
		hc.CapDrop = want.CapDrop
	}
	if sameTmpfs(hc.Tmpfs, want.Tmpfs) {
		hc.Tmpfs = want.Tmpfs
	}
	if e != enginePodman {
		return hc
	}
	// Podman's inspect says "bridge" for any container on a bridge-driver
	// network; the caller then compares the exact list of networks.
	if namedNetwork && hc.NetworkMode == "bridge" {
		hc.NetworkMode = want.NetworkMode
	}
	// Podman says "private" for a container's own namespace, dockerd "".
	if hc.PidMode == "private" {
		hc.PidMode = ""
	}
	if hc.UTSMode == "private" {
		hc.UTSMode = ""
	}
	// Podman 4.3's compatible API reports these whatever was asked for: it
	// neither applies nor reports a cgroup namespace, calls every IPC
	// namespace "shareable" (the host's too) and every runtime "oci".
	if hc.IpcMode == "shareable" {
		hc.IpcMode = want.IpcMode
	}
	if hc.CgroupnsMode == "" {
		hc.CgroupnsMode = want.CgroupnsMode
	}
	if hc.Runtime == "oci" {
		hc.Runtime = plainRuntimes[0]
	}
	return hc
}

// wantEnv is the environment set on top of the image's: the policy's
// (allowlist mode's proxy variables) and the user's --env pairs. When the
// run reaches its proxy at another address than the spec's (podman's relay
// on loopback), that address replaces the spec's proxy URL.
func wantEnv(s policies.ContainerSpec, req request) []string {
	env := slices.Clone(s.Env)
	if s.Egress != nil && req.proxyURL != "" {
		specURL := fmt.Sprintf("http://%s:%d", s.Egress.ProxyHost, s.Egress.ProxyPort)
		for i, e := range env {
			if name, val, _ := strings.Cut(e, "="); val == specURL {
				env[i] = name + "=" + req.proxyURL
			}
		}
	}
	return append(env, req.env...)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// ensureImage pulls the verified digest unless the engine already has it.
func ensureImage(ctx context.Context, d Docker, ref string) error {
	if _, err := d.ImageInspect(ctx, ref); err == nil {
		return nil
	}
	rc, err := d.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	defer rc.Close()
	// The pull completes when the progress stream ends; errors arrive in it.
	body, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	if i := strings.Index(string(body), `"error"`); i >= 0 {
		return fmt.Errorf("pulling %s: %s", ref, strings.TrimSpace(string(body[i:])))
	}
	return nil
}

func containerName(v *Verified) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	repo := v.Digest.Context().RepositoryStr()
	repo = strings.NewReplacer("/", "-", ".", "-", "_", "-").Replace(repo)
	if len(repo) > 40 {
		repo = repo[len(repo)-40:]
	}
	return "drydock-" + strings.Trim(repo, "-") + "-" + hex.EncodeToString(b)
}
