package build

import (
	"maps"

	"github.com/drydock-dev/drydock/policies"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Annotation keys written on the hardened manifest.
const (
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// HardenedConfig derives the hardened image's config from the upstream one:
// what the server needs to start (entrypoint, cmd, env, workdir, ports, stop
// signal, labels) is kept; the user becomes the policy's numeric non-root
// user; the policy and the source are recorded as labels. Layers and history
// are filled in by BuildKit's exporter.
func HardenedConfig(upstream *v1.ConfigFile, label, user, source string, platform v1.Platform) *v1.ConfigFile {
	in := upstream.Config
	labels := maps.Clone(in.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[policies.LabelKey] = label
	labels[policies.SourceLabelKey] = source
	return &v1.ConfigFile{
		Architecture: platform.Architecture,
		OS:           platform.OS,
		Variant:      platform.Variant,
		// The upstream creation time, not the build time: the same inputs
		// should describe the same image.
		Created: upstream.Created,
		Config: v1.Config{
			Entrypoint:   in.Entrypoint,
			Cmd:          in.Cmd,
			Env:          in.Env,
			WorkingDir:   in.WorkingDir,
			ExposedPorts: in.ExposedPorts,
			StopSignal:   in.StopSignal,
			Labels:       labels,
			User:         user,
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
}
