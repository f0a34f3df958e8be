package main

import (
	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/launch"
	"github.com/spf13/cobra"
)

// exitLaunchFailed mirrors `docker run`: the server never started.
const exitLaunchFailed = 125

// NewCmdRun verifies an image and runs it under its policy over stdio.
func NewCmdRun() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "run IMAGE --key cosign.pub [-- ARGS...]",
		Short: "Verify an MCP server image and run it sandboxed, proxying stdio",
		Long: `Resolve IMAGE once to a digest, verify its signature and policy label, then
create a container from exactly that digest with the policy applied (read-only
root filesystem, the policy's network mode, all capabilities dropped,
no-new-privileges, memory/cpu/pids caps, noexec tmpfs, numeric non-root user,
an init process). The container is inspected and not started if the engine did
not apply every setting. stdin/stdout are proxied byte for byte (the MCP
stream), the server's stderr goes to stderr, SIGINT/SIGTERM are forwarded and
the container is removed on exit.

Use it as the "command" of an MCP server in Claude Desktop, Cursor or VS Code.
Exits with the server's exit code, or 125 when it refuses or cannot start it.
Docker engine: DOCKER_HOST or the default socket.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := attest.LoadVerifier(key)
			if err != nil {
				return &exitCodeError{code: exitLaunchFailed, err: err}
			}
			code, err := launch.Run(cmd.Context(), args[0],
				launch.WithVerifier(v),
				launch.WithArgs(args[1:]),
				launch.WithStdio(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()),
			)
			if err != nil {
				return &exitCodeError{code: exitLaunchFailed, err: err}
			}
			if code != 0 {
				return &exitCodeError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign public key file (required)")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}
