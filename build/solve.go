package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/util/progress/progressui"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

type solveRequest struct {
	graph       llb.State
	config      *v1.ConfigFile
	target      name.Repository
	annotations map[string]string
	sourceDate  time.Time
}

// solve runs the graph on BuildKit and pushes the result by digest; it
// returns the manifest digest. Nothing is tagged here.
func solve(ctx context.Context, o *options, req solveRequest) (string, error) {
	addr := Addr(o.addr)
	c, err := Connect(ctx, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()

	cfgJSON, err := json.Marshal(req.config)
	if err != nil {
		return "", fmt.Errorf("encoding image config: %w", err)
	}
	def, err := req.graph.Marshal(ctx)
	if err != nil {
		return "", fmt.Errorf("marshaling LLB: %w", err)
	}
	attrs := map[string]string{
		string(exptypes.OptKeyName):         req.target.Name(),
		string(exptypes.OptKeyPush):         "true",
		string(exptypes.OptKeyPushByDigest): "true",
		// Manifest annotations need OCI media types; it also keeps the
		// output's media types consistent.
		string(exptypes.OptKeyOCITypes): "true",
		// Reproducibility: the exporter dates the config, the history and
		// any layer BuildKit itself wrote from the source date, not from its
		// clock or its cache.
		string(exptypes.OptKeySourceDateEpoch):  strconv.FormatInt(req.sourceDate.Unix(), 10),
		string(exptypes.OptKeyRewriteTimestamp): "true",
	}
	for k, v := range req.annotations {
		attrs[exptypes.AnnotationManifestKey(nil, k)] = v
	}
	opt := bkclient.SolveOpt{
		Exports: []bkclient.ExportEntry{{Type: bkclient.ExporterImage, Attrs: attrs}},
		Session: []session.Attachable{authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
			AuthConfigProvider: authprovider.LoadAuthConfig(config.LoadDefaultConfigFile(o.progress)),
		})},
	}

	ch := make(chan *bkclient.SolveStatus)
	eg, egctx := errgroup.WithContext(ctx)
	var resp *bkclient.SolveResponse
	eg.Go(func() error {
		var err error
		resp, err = c.Build(egctx, opt, "drydock", func(ctx context.Context, gw gateway.Client) (*gateway.Result, error) {
			if err := checkCaps(gw.BuildOpts().LLBCaps); err != nil {
				return nil, err
			}
			res, err := gw.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB()})
			if err != nil {
				return nil, err
			}
			res.AddMeta(exptypes.ExporterImageConfigKey, cfgJSON)
			// Every layer of the output is a pinned input blob (hardened
			// base, upstream app layers, drydock's hardening layer, already
			// dated from the source date). Declaring that stack as the base
			// tells rewrite-timestamp to leave those blobs alone: rewriting
			// them would recompress the upstream's layers and change their
			// digests, and the hardening layer was computed for exactly
			// those. A layer BuildKit produced on its own would not match
			// and would be rewritten (and then refused by checkOutput).
			res.AddMeta(exptypes.ExporterImageBaseConfigKey, cfgJSON)
			return res, nil
		}, ch)
		return err
	})
	eg.Go(func() error {
		d, err := progressui.NewDisplay(o.progress, progressui.DisplayMode(o.progressMode))
		if err != nil {
			// An unknown mode must not lose the build: drain and carry on.
			for range ch {
			}
			return nil
		}
		_, err = d.UpdateFrom(egctx, ch)
		return err
	})
	if err := eg.Wait(); err != nil {
		return "", fmt.Errorf("building on %s: %w", addr, err)
	}
	digest := resp.ExporterResponse[exptypes.ExporterImageDigestKey]
	if digest == "" {
		return "", errors.New("BuildKit returned no image digest")
	}
	return digest, nil
}

func toOCI(p v1.Platform) ocispecs.Platform {
	return ocispecs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}
