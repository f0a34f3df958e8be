package hardening_test

import (
	"testing"

	"github.com/drydock-dev/drydock/rebase/hardening"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
)

// TestRemoveToolsNixStore: tool removal finds shells, package managers and
// compilers in Nix store packages' bin directories (where Nixpacks images
// keep them), leaves the rest of the store alone, and keeps a program that
// Keep names by path (the resolved start command) while a same-named tool
// elsewhere still goes. A Python venv's bin (its parent has pyvenv.cfg)
// loses pip, as Nixpacks' /opt/venv/bin does; a bin without one is left.
// The npm and corepack packages bundled with node lose their entry points
// (node could run npm-cli.js without the bin link); an app's own
// dependency named npm is the app's.
func TestRemoveToolsNixStore(t *testing.T) {
	var files []tarFile
	for _, n := range []string{
		"bin/sh",
		"usr/bin/pip",
		"nix/store/0a1b-bash-5.2-p15/bin/bash",
		"nix/store/0a1b-bash-5.2-p15/bin/sh",
		"nix/store/2c3d-nodejs-20.12.2/bin/node",
		"nix/store/2c3d-nodejs-20.12.2/bin/npm",
		"nix/store/4e5f-python3-3.11.9/bin/python3.11",
		"nix/store/4e5f-python3-3.11.9/bin/pip3.11",
		"nix/store/6a7b-gcc-12.3.0/bin/gcc",
		"nix/store/8c9d-coreutils-9.5/lib/bash",
		"nix/store/8c9d-coreutils-9.5/share/bin/sh",
		"nix/store/aabb-pip-24/bin/pip",
		"root/.nix-profile/bin/npm",
		"opt/venv/pyvenv.cfg",
		"opt/venv/bin/pip",
		"opt/venv/bin/pip3",
		"opt/venv/bin/pip3.11",
		"opt/venv/bin/python3",
		"opt/venv/bin/mcp-server-stdlib",
		"opt/notvenv/bin/pip",
		"nix/store/2c3d-nodejs-20.12.2/lib/node_modules/npm/bin/npm",
		"nix/store/2c3d-nodejs-20.12.2/lib/node_modules/npm/bin/npm-cli.js",
		"nix/store/2c3d-nodejs-20.12.2/lib/node_modules/npm/bin/node-gyp-bin/node-gyp",
		"nix/store/2c3d-nodejs-20.12.2/lib/node_modules/npm/lib/cli.js",
		"usr/local/lib/node_modules/corepack/bin/corepack",
		"app/node_modules/npm/bin/npm-cli.js",
	} {
		files = append(files, tarFile{n, "x"})
	}
	o := hardening.DefaultOptions()
	o.RemoveTools = true
	o.Keep = []string{"/nix/store/aabb-pip-24/bin/pip"}
	res, err := hardening.Harden([]v1.Layer{layerOf(t, files)}, o)
	require.NoError(t, err)
	require.Equal(t, []string{
		"/bin/sh",
		"/nix/store/0a1b-bash-5.2-p15/bin/bash",
		"/nix/store/0a1b-bash-5.2-p15/bin/sh",
		"/nix/store/2c3d-nodejs-20.12.2/bin/npm",
		"/nix/store/2c3d-nodejs-20.12.2/lib/node_modules/npm/bin/node-gyp-bin/node-gyp",
		"/nix/store/2c3d-nodejs-20.12.2/lib/node_modules/npm/bin/npm",
		"/nix/store/2c3d-nodejs-20.12.2/lib/node_modules/npm/bin/npm-cli.js",
		"/nix/store/4e5f-python3-3.11.9/bin/pip3.11",
		"/nix/store/6a7b-gcc-12.3.0/bin/gcc",
		"/opt/venv/bin/pip",
		"/opt/venv/bin/pip3",
		"/opt/venv/bin/pip3.11",
		"/usr/bin/pip",
		"/usr/local/lib/node_modules/corepack/bin/corepack",
	}, res.Report.Removed)
}
