package main

import (
	"github.com/spf13/cobra"
)

// NewRootCmd builds the command tree. No globals: each command gets what it
// needs through closures.
func NewRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "drydock",
		Short: "Harden, sign, verify and safely launch MCP server images",
		Long: `drydock rebuilds third-party MCP server images onto a minimal non-root base,
embeds a signed runtime policy (read-only rootfs, no network, all capabilities
dropped, no-new-privileges, resource caps), signs the result with cosign, and
launches it only after verifying the signature and the policy.

Exit codes: 0 ok, 1 refused (verification or policy), 2 error.
"drydock run" exits with the server's exit code, or 125 when it refuses or
cannot start the server.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		NewCmdKeygen(),
		NewCmdHarden(),
		NewCmdSign(),
		NewCmdVerify(),
		NewCmdScan(),
		NewCmdRun(),
		NewCmdPolicy(),
		NewCmdMCPConfig(),
		NewCmdMirror(),
		NewCmdEgressProxy(),
		NewCmdEgressImage(),
		NewCmdKube(),
	)
	return root
}
