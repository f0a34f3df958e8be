//go:build kms

package attest

import (
	"context"
	"crypto"
	"fmt"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"
	// The providers register themselves with kms (their init); they are
	// what -tags kms adds to the binary.
	_ "github.com/sigstore/sigstore/pkg/signature/kms/aws"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/azure"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/gcp"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault"
)

// KMSProviders lists the KMS schemes compiled into this binary.
func KMSProviders() []string { return append([]string(nil), kmsSchemes...) }

func loadKMS(ctx context.Context, ref string) (signature.SignerVerifier, error) {
	// LoadKMSSigner admitted only the four registered schemes, so kms.Get
	// never falls through to running a sigstore-kms-* plugin.
	sv, err := kms.Get(ctx, ref, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("loading KMS key %s: %w", ref, err)
	}
	return sv, nil
}
