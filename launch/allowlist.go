package launch

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/drydock-dev/drydock/launch/egress"
	"github.com/drydock-dev/drydock/policies"
)

// LabelEgressFor marks the proxy container and the internal network of a
// run with the server container's name.
const LabelEgressFor = "dev.drydock.egress-for"

// Limits of the proxy container: it only copies bytes.
const (
	proxyMemory  = 64 << 20
	proxyPids    = 64
	proxyCPUs    = 500_000_000 // 0.5 CPU
	proxyReady   = 30 * time.Second
	cleanupGrace = 20 * time.Second
)

// egressRun is the per-run plumbing of network mode allowlist: an internal
// network for the server and the proxy container that is its only way out.
type egressRun struct {
	d        Docker
	internal string // the internal network's name, the server's NetworkMode
	proxyID  string
	serverID string // set once the server container exists
	stderr   io.Writer
}

// startEgress creates the internal network and the proxy, checks that the
// engine applied every setting, starts the proxy and waits until it listens.
// On error everything it created is removed.
func startEgress(ctx context.Context, d Docker, v *Verified, o *options, server string, engine engineKind) (e *egressRun, err error) {
	imageID, err := ensureProxyImage(ctx, d, o)
	if err != nil {
		return nil, err
	}
	e = &egressRun{d: d, internal: server + "-internal", stderr: o.stderr}
	defer func() {
		if err != nil {
			e.cleanup(context.WithoutCancel(ctx))
		}
	}()
	labels := map[string]string{LabelRun: "1", LabelEgressFor: server}
	if _, err := d.NetworkCreate(ctx, e.internal, network.CreateOptions{Driver: "bridge", Internal: true, Labels: labels}); err != nil {
		return e, fmt.Errorf("creating the internal network for %s: %w", v.Digest, err)
	}
	want := proxyWant(v.Spec.Egress, imageID, o.egressNetwork, engine)
	created, err := d.ContainerCreate(ctx, &container.Config{
		Image: imageID, User: egress.User, Cmd: want.cmd, Labels: labels,
		AttachStdout: true, AttachStderr: true,
	}, want.hostConfig(), nil, nil, server+"-egress")
	if err != nil {
		return e, fmt.Errorf("creating the egress proxy container for %s: %w", v.Digest, err)
	}
	e.proxyID = created.ID
	// API 1.41 creates a container on one network; the second is connected
	// before start, under the fixed alias the server's proxy variables name.
	if err := d.NetworkConnect(ctx, e.internal, e.proxyID, &network.EndpointSettings{Aliases: []string{v.Spec.Egress.ProxyHost}}); err != nil {
		return e, fmt.Errorf("connecting the egress proxy to the internal network for %s: %w", v.Digest, err)
	}
	if err := e.check(ctx, want); err != nil {
		return e, fmt.Errorf("%w: %s: %w; not starting it", ErrRefused, v.Digest, err)
	}
	if err := e.start(ctx); err != nil {
		return e, fmt.Errorf("starting the egress proxy for %s: %w", v.Digest, err)
	}
	return e, nil
}

// ensureProxyImage loads the proxy image built from this drydock's binary
// into the engine unless it is there already (keyed by the binary's digest).
func ensureProxyImage(ctx context.Context, d Docker, o *options) (string, error) {
	bin := o.proxyBinary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("finding the drydock binary for the egress proxy: %w", err)
		}
		bin = exe
	}
	if err := egress.CheckBinary(bin); err != nil {
		return "", err
	}
	dg, err := egress.BinaryDigest(bin)
	if err != nil {
		return "", err
	}
	tag := egress.Tag(dg)
	if id, ok := loadedProxy(ctx, d, tag, dg); ok {
		return id, nil
	}
	img, err := egress.Image(bin)
	if err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(egress.WriteTarball(pw, tag, img)) }()
	resp, err := d.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("loading the egress proxy image into the container engine: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", fmt.Errorf("loading the egress proxy image into the container engine: %w", err)
	}
	if i := strings.Index(string(body), `"error"`); i >= 0 {
		return "", fmt.Errorf("loading the egress proxy image into the container engine: %s", strings.TrimSpace(string(body[i:])))
	}
	id, ok := loadedProxy(ctx, d, tag, dg)
	if !ok {
		return "", fmt.Errorf("the container engine did not keep the egress proxy image %s after loading it", tag)
	}
	return id, nil
}

// loadedProxy finds the proxy image of binary digest dg under tag.
func loadedProxy(ctx context.Context, d Docker, tag, dg string) (string, bool) {
	info, err := d.ImageInspect(ctx, tag)
	if err != nil || info.Config == nil || info.Config.Labels[egress.BinaryLabel] != dg {
		return "", false
	}
	return info.ID, true
}

// proxySettings is what the proxy container must be created with.
type proxySettings struct {
	image, egressNet string
	cmd              []string
	engine           engineKind
}

func proxyWant(eg *policies.Egress, imageID, egressNet string, engine engineKind) proxySettings {
	cmd := egress.Command(eg.Allow)
	return proxySettings{image: imageID, egressNet: egressNet, cmd: cmd, engine: engine}
}

func (p proxySettings) hostConfig() *container.HostConfig {
	pids := int64(proxyPids)
	return &container.HostConfig{
		NetworkMode:    container.NetworkMode(p.egressNet),
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Resources:      container.Resources{Memory: proxyMemory, MemorySwap: proxyMemory, NanoCPUs: proxyCPUs, PidsLimit: &pids},
		Tmpfs:          engineTmpfs(nil, true, p.engine),
	}
}

// check inspects the internal network and the proxy container: the server's
// isolation rests on both.
func (e *egressRun) check(ctx context.Context, want proxySettings) error {
	n, err := e.d.NetworkInspect(ctx, e.internal, network.InspectOptions{})
	if err != nil {
		return fmt.Errorf("inspecting the internal network %s: %w", e.internal, err)
	}
	if !n.Internal {
		return fmt.Errorf("the container engine created network %s without internal isolation", e.internal)
	}
	info, err := e.d.ContainerInspect(ctx, e.proxyID)
	if err != nil {
		return fmt.Errorf("inspecting the egress proxy container: %w", err)
	}
	if m := proxyMismatches(info, want, e.internal); len(m) > 0 {
		return fmt.Errorf("the container engine did not apply the egress proxy's settings (%s)", strings.Join(m, "; "))
	}
	return nil
}

// proxyMismatches compares the proxy container with what drydock asked for.
func proxyMismatches(got container.InspectResponse, want proxySettings, internal string) []string {
	if got.ContainerJSONBase == nil || got.HostConfig == nil || got.Config == nil {
		return []string{"engine returned no configuration"}
	}
	var out []string
	check := func(field string, ok bool, g, w any) {
		if !ok {
			out = append(out, fmt.Sprintf("proxy %s is %v, drydock wants %v", field, g, w))
		}
	}
	hc, wc := got.HostConfig, want.hostConfig()
	check("image", got.Image == want.image, got.Image, want.image)
	check("user", got.Config.User == egress.User, got.Config.User, egress.User)
	check("command", slices.Equal(got.Config.Cmd, want.cmd), got.Config.Cmd, want.cmd)
	check("entrypoint", slices.Equal(got.Config.Entrypoint, []string{egress.BinaryPath}), got.Config.Entrypoint, egress.BinaryPath)
	check("ReadonlyRootfs", hc.ReadonlyRootfs, hc.ReadonlyRootfs, true)
	check("CapDrop", sameCapDrop(hc.CapDrop, wc.CapDrop), hc.CapDrop, wc.CapDrop)
	check("Tmpfs", sameTmpfs(hc.Tmpfs, wc.Tmpfs), hc.Tmpfs, wc.Tmpfs)
	check("CapAdd", len(hc.CapAdd) == 0, hc.CapAdd, "none")
	check("SecurityOpt", sameSet(hc.SecurityOpt, wc.SecurityOpt), hc.SecurityOpt, wc.SecurityOpt)
	check("Privileged", !hc.Privileged, hc.Privileged, false)
	check("Memory", hc.Memory == wc.Memory, hc.Memory, wc.Memory)
	check("PidsLimit", hc.PidsLimit != nil && *hc.PidsLimit == *wc.PidsLimit, deref(hc.PidsLimit), *wc.PidsLimit)
	check("Binds", len(hc.Binds) == 0 && len(hc.Mounts) == 0 && len(hc.VolumesFrom) == 0, hc.Binds, "none")
	check("Devices", len(hc.Devices) == 0, len(hc.Devices), 0)
	check("NetworkMode", sameNetworkMode(string(hc.NetworkMode), want.egressNet, want.engine, true), hc.NetworkMode, want.egressNet)
	var nets []string
	if got.NetworkSettings != nil {
		nets = slices.Sorted(maps.Keys(got.NetworkSettings.Networks))
	}
	wantNets := []string{want.egressNet, internal}
	check("networks", sameSet(nets, wantNets), nets, wantNets)
	return out
}

// start attaches to the proxy's log, starts it and waits for its ready
// line. The log (denials, errors) keeps flowing to drydock's stderr.
func (e *egressRun) start(ctx context.Context) error {
	hj, err := e.d.ContainerAttach(ctx, e.proxyID, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, hj.Reader)
		pw.CloseWithError(err)
		hj.Close()
	}()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			fmt.Fprintln(e.stderr, sc.Text())
			if !once && strings.HasPrefix(sc.Text(), egress.ReadyLine) {
				once = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	if err := e.d.ContainerStart(ctx, e.proxyID, container.StartOptions{}); err != nil {
		hj.Close()
		return err
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(proxyReady):
		return fmt.Errorf("the egress proxy did not report listening within %s", proxyReady)
	}
}

// cleanup removes the server (if still there), the proxy and the network.
// The network can only go once no container is attached to it, and the
// server's auto-removal may still be running: retry until a deadline.
func (e *egressRun) cleanup(ctx context.Context) {
	for _, id := range []string{e.serverID, e.proxyID} {
		if id != "" {
			_ = e.d.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
		}
	}
	deadline := time.Now().Add(cleanupGrace)
	for {
		err := e.d.NetworkRemove(ctx, e.internal)
		if err == nil || client.IsErrNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(e.stderr, "drydock: warning: removing network %s: %v\n", e.internal, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
