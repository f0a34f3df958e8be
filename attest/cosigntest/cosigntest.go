// Package cosigntest gives tests the real cosign CLI, built from the Go
// module proxy at the cosign version drydock links, so interoperability is
// checked against the tool users actually run.
//
// The binary is built once per version by `go build` inside the
// hack/tools/cosign module and cached at
// ${XDG_CACHE_HOME:-$HOME/.cache}/drydock/cosign-<version>/cosign (the way
// hack/dev-env caches buildkitd). DRYDOCK_COSIGN names a prebuilt binary
// instead. When it cannot be built a test fails under CI=true and skips
// elsewhere.
package cosigntest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/testdata/testenv"
)

const cosignModule = "github.com/sigstore/cosign/v2"

// Binary returns the path of a cosign CLI at the version in go.mod,
// building it on first use (a cold build takes several minutes).
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("DRYDOCK_COSIGN"); p != "" {
		return p
	}
	p, err := build()
	if err != nil {
		testenv.Unavailable(t, "the cosign CLI is not available (%v); build it with `cd hack/tools/cosign && go build %s/cmd/cosign`, or set DRYDOCK_COSIGN", err, cosignModule)
	}
	return p
}

// Path returns the cosign CLI like Binary, for programs that are not tests
// (the benchmark harness).
func Path() (string, error) {
	if p := os.Getenv("DRYDOCK_COSIGN"); p != "" {
		return p, nil
	}
	return build()
}

func build() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	version, err := requiredVersion(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	toolsDir := filepath.Join(root, "hack", "tools", "cosign")
	toolsVersion, err := requiredVersion(filepath.Join(toolsDir, "go.mod"))
	if err != nil {
		return "", err
	}
	if toolsVersion != version {
		return "", fmt.Errorf("hack/tools/cosign/go.mod pins %s %s but go.mod has %s; run `cd hack/tools/cosign && go get %s@%s && go mod tidy`", cosignModule, toolsVersion, version, cosignModule, version)
	}
	cache, err := os.UserCacheDir()
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		cache, err = x, nil
	}
	if err != nil {
		return "", fmt.Errorf("finding the cache directory: %w", err)
	}
	dir := filepath.Join(cache, "drydock", "cosign-"+version)
	bin := filepath.Join(dir, "cosign")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	// Build beside the target and rename, so a half-written binary is never
	// picked up by a concurrent or later run.
	tmp := filepath.Join(dir, fmt.Sprintf(".cosign.%d.tmp", os.Getpid()))
	defer os.Remove(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-X sigs.k8s.io/release-utils/version.gitVersion="+version,
		"-o", tmp, cosignModule+"/cmd/cosign")
	cmd.Dir = toolsDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building cosign %s in %s: %w\n%s", version, toolsDir, err, out.String())
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("installing cosign into %s: %w", bin, err)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory (a package directory
// under go test) to drydock's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/drydock-dev/drydock\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no drydock go.mod above the working directory")
		}
		dir = parent
	}
}

// requiredVersion reads the cosign version a go.mod requires.
func requiredVersion(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", gomod, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == cosignModule {
			return fields[1], nil
		}
	}
	return "", fmt.Errorf("%s does not require %s", gomod, cosignModule)
}

// Result is one cosign run.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs cosign with args and extra environment (COSIGN_PASSWORD goes
// here, never in args). A missing binary or a timeout fails the test; a
// non-zero exit does not.
func Run(t testing.TB, bin string, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// No TUF or network lookups: nothing public is reachable here.
	cmd.Env = append(os.Environ(), append([]string{"TUF_ROOT=" + t.TempDir(), "COSIGN_EXPERIMENTAL=0"}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			t.Fatalf("running cosign %v: %v\n%s", args, err, res.Stderr)
		}
		res.Code = ee.ExitCode()
	}
	return res
}
