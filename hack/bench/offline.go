package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
)

// measureRunInitOffline: drydock run when the registry cannot be reached,
// verifying the cached signature, payload and label of the last online
// verification, against plain docker run of the same local image. A
// private registry is started, used once online, and stopped.
func measureRunInitOffline(ctx context.Context, e *env) (result, error) {
	addr, stop, err := privateRegistry(ctx, e.dir)
	if err != nil {
		return result{}, err
	}
	defer stop()
	src, err := name.NewDigest(e.hardened)
	if err != nil {
		return result{}, err
	}
	// Digest and signature under the private registry, same repository path.
	repo := addr + "/" + src.Context().RepositoryStr()
	if err := crane.Copy(e.hardened, repo+":1"); err != nil {
		return result{}, fmt.Errorf("copying to the private registry: %w", err)
	}
	ref := repo + "@" + src.DigestStr()
	// Signed where it is served: a signature names its repository.
	if _, err := e.cmd(ctx, e.drydock, "sign", ref, "--key", e.key); err != nil {
		return result{}, err
	}
	cache := filepath.Join(e.dir, "offline-cache")
	extra := []string{"XDG_CACHE_HOME=" + cache}
	runArgs := []string{"run", ref, "--key", e.pub}
	if _, err := e.initTimeEnv(ctx, extra, append([]string{e.drydock}, runArgs...)...); err != nil { // online: pulls, caches
		return result{}, fmt.Errorf("online run before going offline: %w", err)
	}
	stop()
	out, err := e.cmd(ctx, e.drydock, "policy", "explain", e.hardened, "--key", e.pub)
	if err != nil {
		return result{}, err
	}
	dockerRun := fieldsWithImage(dockerRunLine(out), ref)
	var r result
	for i := 0; i < e.cfg.reps+1; i++ {
		d, err := e.initTimeEnv(ctx, extra, append([]string{e.drydock}, runArgs...)...)
		if err != nil {
			return r, fmt.Errorf("offline run: %w", err)
		}
		b, err := e.initTime(ctx, dockerRun...)
		if err != nil {
			return r, err
		}
		if i == 0 && e.cfg.reps > 1 {
			continue
		}
		r.drydock, r.base = append(r.drydock, d), append(r.base, b)
	}
	r.note = "registry stopped; cached material re-verified"
	return r, nil
}

// privateRegistry starts Debian's docker-registry on a free loopback port
// with its own storage; stop is idempotent.
func privateRegistry(ctx context.Context, dir string) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	l.Close()
	root := filepath.Join(dir, "offline-registry")
	cfg := filepath.Join(dir, "offline-registry.yml")
	conf := fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", root, addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, "docker-registry", "serve", cfg)
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting docker-registry: %w", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("private registry at %s did not answer: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fieldsWithImage splits a `docker run … IMAGE` line and replaces IMAGE.
func fieldsWithImage(line, image string) []string {
	f := strings.Fields(line)
	f[len(f)-1] = image
	return f
}
