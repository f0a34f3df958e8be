package smoke

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Available says whether the container engine Compare would use answers
// (`docker version` against DOCKER_HOST), within ten seconds. drydock
// harden and mirror run the start check by default only when it does.
func Available(ctx context.Context, opts ...Option) error {
	o := options{docker: "docker"}
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, o.docker, "version", "--format", "{{.Server.Version}}")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil && strings.TrimSpace(string(out)) != "" {
		return nil
	}
	msg := strings.TrimSpace(stderr.String())
	if i := strings.IndexByte(msg, '\n'); i > 0 {
		msg = msg[:i]
	}
	if msg == "" && err != nil {
		msg = err.Error()
	}
	return fmt.Errorf("no container engine answered %s version: %s", o.docker, msg)
}
