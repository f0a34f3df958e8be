//go:build !kms

package attest

import (
	"context"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
)

// KMSProviders lists the KMS schemes compiled into this binary: none
// without -tags kms, which keeps the cloud SDKs out of the default build.
func KMSProviders() []string { return nil }

func loadKMS(_ context.Context, ref string) (signature.SignerVerifier, error) {
	scheme := ref[:strings.Index(ref, "://")+3]
	return nil, fmt.Errorf("%s keys need a drydock built with KMS support: this binary has none; build it with `go build -tags kms ./cmd/drydock` (providers awskms, gcpkms, azurekms, hashivault)", scheme)
}
