package launch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// LabelSmoke marks the containers of a start check (launch/smoke).
const LabelSmoke = "dev.drydock.smoke"

// Sandboxed is a server container started by StartSandboxed: its stdin
// and stdout, and Remove, which force-removes it (safe to call twice).
type Sandboxed struct {
	Stdin  io.WriteCloser
	Stdout io.ReadCloser
	Remove func()
}

// StartSandboxed starts ref under spec the way run starts a verified
// image: the same container config and HostConfig, created by digest, and
// inspected before start so that an engine which dropped a setting never
// runs it. It is for start checks of images that carry no verified label
// (an upstream, a hardened image before signing): spec comes from the
// caller's policies.Translate, never from the image. The server's stderr
// goes to stderr. A spec in allowlist mode is refused (a start check gets
// no network).
func StartSandboxed(ctx context.Context, d Docker, ref name.Digest, spec policies.ContainerSpec, args []string, stderr io.Writer) (*Sandboxed, error) {
	if spec.Egress != nil {
		return nil, fmt.Errorf("start check of %s: network mode allowlist needs an egress proxy; check with network mode none", ref)
	}
	v, err := sandboxImage(ctx, d, ref, spec)
	if err != nil {
		return nil, err
	}
	req := request{args: args, engine: detectEngine(ctx, d)}
	cfg := containerConfig(v, args, req)
	cfg.Labels = map[string]string{LabelSmoke: "1", LabelImage: ref.String()}
	created, err := d.ContainerCreate(ctx, cfg, hostConfig(v.Spec, req), nil, nil, "drydock-smoke-"+randomID())
	if err != nil {
		return nil, fmt.Errorf("creating start-check container for %s: %w", ref, err)
	}
	bg := context.WithoutCancel(ctx)
	id := created.ID
	remove := func() { _ = d.ContainerRemove(bg, id, container.RemoveOptions{Force: true, RemoveVolumes: true}) }
	info, err := d.ContainerInspect(ctx, id)
	if err != nil {
		remove()
		return nil, fmt.Errorf("inspecting start-check container for %s: %w", ref, err)
	}
	if m := mismatches(info, v, req); len(m) > 0 {
		remove()
		return nil, fmt.Errorf("%w: the container engine did not apply the start check's sandbox to %s (%s); not starting it", ErrRefused, ref, strings.Join(m, "; "))
	}
	hj, err := d.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		remove()
		return nil, fmt.Errorf("attaching to start-check container for %s: %w", ref, err)
	}
	if err := d.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		hj.Close()
		remove()
		return nil, fmt.Errorf("starting start-check container for %s: %w", ref, err)
	}
	pr, pw := io.Pipe()
	go func() {
		// The stream is multiplexed (no TTY): stdout carries MCP, stderr logs.
		_, err := stdcopy.StdCopy(pw, stderr, hj.Reader)
		pw.CloseWithError(err)
	}()
	return &Sandboxed{
		Stdin:  halfCloser{Writer: hj.Conn, closeWrite: hj.CloseWrite},
		Stdout: pr,
		Remove: func() { hj.Close(); remove() },
	}, nil
}

// sandboxImage makes sure the engine has ref and describes it the way
// verify describes a verified image, for containerConfig and mismatches.
// Image VOLUMEs get a policy-sized tmpfs: the engine would otherwise mount
// a writable, exec-allowed volume there.
func sandboxImage(ctx context.Context, d Docker, ref name.Digest, spec policies.ContainerSpec) (*Verified, error) {
	img, err := d.ImageInspect(ctx, ref.String())
	if err != nil {
		if err := ensureImage(ctx, d, ref.String()); err != nil {
			return nil, err
		}
		if img, err = d.ImageInspect(ctx, ref.String()); err != nil {
			return nil, fmt.Errorf("inspecting %s: %w", ref, err)
		}
	}
	cfg, err := v1.NewHash(img.ID)
	if err != nil {
		return nil, fmt.Errorf("reading the image ID of %s: %w", ref, err)
	}
	v := &Verified{Digest: ref, ConfigDigest: cfg, Spec: spec}
	if img.Config != nil {
		v.imageEnv = img.Config.Env
		vols := slices.Sorted(maps.Keys(img.Config.Volumes))
		if len(vols) > 0 {
			v.Spec.Tmpfs = maps.Clone(spec.Tmpfs)
			if v.Spec.Tmpfs == nil {
				v.Spec.Tmpfs = map[string]string{}
			}
		}
		for _, vol := range vols {
			if p := path.Clean(vol); v.Spec.Tmpfs[p] == "" {
				v.Spec.Tmpfs[p] = policies.TmpfsOptions(sandboxVolumeSize)
			}
		}
	}
	return v, nil
}

// sandboxVolumeSize caps the tmpfs over an image VOLUME in a start check.
const sandboxVolumeSize = 64 << 20

// halfCloser writes to the attach connection; closing it closes only the
// write half, which ends the server's stdin (StdinOnce) and lets its last
// answers still arrive.
type halfCloser struct {
	io.Writer
	closeWrite func() error
}

func (h halfCloser) Close() error { return h.closeWrite() }

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
