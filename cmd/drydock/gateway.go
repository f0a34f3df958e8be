package main

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/launch"
)

// The release default gateway image of network mode allowlist, set when a
// release is built (a dev build has none):
//
//	go build -ldflags "-X main.gatewayImage=REPO@sha256:... -X main.gatewayKey=$(base64 -w0 gateway.pub)" ./cmd/drydock
//
// The linker can only set package-level strings, hence variables here and
// nowhere else; launch receives them as an option. A floor's egress field
// overrides them.
var gatewayImage, gatewayKey string

// releaseGateway is the launch option carrying the release default, if
// this build has one.
func releaseGateway() ([]launch.Option, error) { return gatewayOption(gatewayImage, gatewayKey) }

// gatewayOption turns a release's gateway image and key (PEM, or base64 of
// PEM: -X cannot carry newlines) into the launch option.
func gatewayOption(gatewayImage, gatewayKey string) ([]launch.Option, error) {
	if gatewayImage == "" && gatewayKey == "" {
		return nil, nil
	}
	if gatewayImage == "" || gatewayKey == "" {
		return nil, fmt.Errorf("this drydock build sets only one of main.gatewayImage and main.gatewayKey; rebuild it with both, or set egress.image and egress.key in the floor file")
	}
	pem := []byte(gatewayKey)
	if !strings.HasPrefix(strings.TrimSpace(gatewayKey), "-----BEGIN") {
		b, err := base64.StdEncoding.DecodeString(gatewayKey)
		if err != nil {
			return nil, fmt.Errorf("this drydock build's release default gateway key (main.gatewayKey) is neither PEM nor base64 of PEM; rebuild it, or set egress.image and egress.key in the floor file: %w", err)
		}
		pem = b
	}
	key, err := attest.ParseVerifier(pem, "this drydock build's release default gateway key (main.gatewayKey)")
	if err != nil {
		return nil, err
	}
	return []launch.Option{launch.WithGateway(launch.Gateway{Image: gatewayImage, Key: key, Source: "release default of this drydock build"})}, nil
}
