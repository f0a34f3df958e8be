package launch

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/launch/egress"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Gateway is a signed gateway image: the image the egress proxy and relay
// of network mode allowlist run from, and the key it must verify with.
type Gateway struct {
	// Image is REPO@sha256:<hex> (an image or an index).
	Image string
	// Key verifies Image's signature.
	Key signature.Verifier
	// Source says where Image and Key came from (for explain and errors).
	Source string
}

// WithGateway sets the release default gateway image, which a drydock
// release carries (see cmd/drydock). The floor's egress field overrides it.
// Default: none; then the gateway is built from the running drydock, which
// must be a static Linux binary.
func WithGateway(g Gateway) Option {
	return func(o *options) error {
		if _, err := name.NewDigest(g.Image); err != nil {
			return fmt.Errorf("the gateway image %q (%s) is not REPO@sha256:<digest>: %w", g.Image, g.Source, err)
		}
		if g.Key == nil {
			return fmt.Errorf("the gateway image %s (%s) has no public key to verify it with", g.Image, g.Source)
		}
		o.gateway = &g
		return nil
	}
}

// gatewayChoice is where a run's gateway comes from: a signed image
// (gateway set) or a local build from a static drydock binary.
type gatewayChoice struct {
	gateway *Gateway
	binary  string
}

// floorEgressField names the floor field that sets the gateway image.
const floorEgressField = "egress.image and egress.key in the floor file (~/.config/drydock/floor.yaml or --floor)"

// chooseGateway picks the floor's gateway image, else the release default,
// else the running drydock binary if it can be one. No unsigned helper
// image ever runs: the local build is drydock's own binary, nothing else.
func chooseGateway(o *options) (gatewayChoice, error) { return chooseGatewayFrom(o, os.Executable) }

// chooseGatewayFrom is chooseGateway with the lookup of the running binary
// passed in, so that a test can make it fail.
func chooseGatewayFrom(o *options, executable func() (string, error)) (gatewayChoice, error) {
	if e := o.floor.Egress; e.Set() {
		g := &Gateway{Image: e.Image, Source: "floor egress.image, key from floor egress.key"}
		var err error
		if e.KeyPEM() {
			g.Key, err = attest.ParseVerifier([]byte(e.Key), "floor field egress.key")
		} else {
			g.Source = "floor egress.image, key " + e.Key
			g.Key, err = attest.LoadVerifier(e.Key)
		}
		if err != nil {
			return gatewayChoice{}, fmt.Errorf("loading the gateway image's key (floor field egress.key): %w", err)
		}
		return gatewayChoice{gateway: g}, nil
	}
	if o.gateway != nil {
		return gatewayChoice{gateway: o.gateway}, nil
	}
	bin := o.proxyBinary
	if bin == "" {
		exe, err := executable()
		if err != nil {
			return gatewayChoice{}, fmt.Errorf("finding the drydock binary for the egress proxy: %w", err)
		}
		bin = exe
	}
	if err := egress.CheckBinary(bin); err != nil {
		return gatewayChoice{}, fmt.Errorf("%w: network mode allowlist needs a gateway image and this drydock cannot be one (%w); set %s to a gateway image signed with `drydock egress-image`", ErrRefused, err, floorEgressField)
	}
	return gatewayChoice{binary: bin}, nil
}

// ErrGatewayImageID says the engine's copy of the gateway image is not the
// image whose signature was verified.
var ErrGatewayImageID = errors.New("the container engine's gateway image is not the verified one")

// ensureGateway verifies the signed gateway image exactly as a server image
// is verified (one digest, its signature with the claim verifier and the
// repository binding), pulls that digest into the engine and checks the
// engine's image ID against the verified config. It returns the image ID
// the proxy and relay containers are created from.
func ensureGateway(ctx context.Context, d Docker, o *options, g *Gateway) (string, error) {
	ref, err := name.NewDigest(g.Image)
	if err != nil {
		return "", fmt.Errorf("%w: the gateway image %q (%s) is not REPO@sha256:<digest>: %w", ErrRefused, g.Image, g.Source, err)
	}
	ro := append(append([]remote.Option(nil), o.remote...), remote.WithContext(ctx))
	ao := []attest.Option{attest.WithRemoteOptions(ro...)}
	// An index names one image per platform: verify and run this machine's.
	pd, err := attest.Resolve(ctx, ref, ao...)
	if err != nil {
		return "", fmt.Errorf("resolving the gateway image %s (%s): %w", g.Image, g.Source, err)
	}
	if _, err := attest.Verify(ctx, pd, g.Key, ao...); err != nil {
		return "", fmt.Errorf("%w: the gateway image %s (%s) does not verify, so no allowlist server starts: %w", ErrRefused, pd, g.Source, err)
	}
	img, err := remote.Image(pd, ro...)
	if err != nil {
		return "", fmt.Errorf("reading the gateway image %s: %w", pd, err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return "", fmt.Errorf("reading the config digest of the gateway image %s: %w", pd, err)
	}
	if err := ensureImage(ctx, d, pd.String()); err != nil {
		return "", fmt.Errorf("pulling the gateway image: %w", err)
	}
	info, err := d.ImageInspect(ctx, pd.String())
	if err != nil {
		return "", fmt.Errorf("inspecting the gateway image %s in the container engine: %w", pd, err)
	}
	if info.ID != cfg.String() {
		return "", fmt.Errorf("%w: %w: %s has ID %s in the engine, the verified config is %s; remove the engine's copy and run again", ErrRefused, ErrGatewayImageID, pd, info.ID, cfg)
	}
	return info.ID, nil
}

// gatewayImage returns the engine's image ID of this run's gateway: the
// verified signed image, or the local build of this drydock's binary.
func gatewayImage(ctx context.Context, d Docker, o *options) (string, error) {
	c, err := chooseGateway(o)
	if err != nil {
		return "", err
	}
	if c.gateway != nil {
		return ensureGateway(ctx, d, o, c.gateway)
	}
	return ensureProxyImage(ctx, d, c.binary)
}
