package smoke

import (
	"context"
	"fmt"
	"time"

	"github.com/drydock-dev/drydock/launch"
)

// Available says whether the container engine Compare would use answers,
// within ten seconds. drydock harden and mirror run the start check by
// default only when it does.
func Available(ctx context.Context, opts ...Option) error {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.engine == nil {
		c, err := launch.NewDockerClient()
		if err != nil {
			return fmt.Errorf("no container engine answered: %w", err)
		}
		defer c.Close()
		o.engine = c
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := o.engine.ServerVersion(ctx); err != nil {
		return fmt.Errorf("no container engine answered: %w", err)
	}
	return nil
}
