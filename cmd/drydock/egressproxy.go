package main

import (
	"github.com/drydock-dev/drydock/launch/egress"
	"github.com/spf13/cobra"
)

// NewCmdEgressProxy is the egress proxy drydock runs in its own container
// for servers in network mode allowlist. Hidden: users never run it.
func NewCmdEgressProxy() *cobra.Command {
	var listen, relayTo string
	var allow, addresses []string
	cmd := &cobra.Command{
		Use:    "egress-proxy --listen :3128 --allow HOST:PORT...",
		Short:  "Run the egress proxy of a server in network mode allowlist (used inside drydock's proxy container)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if relayTo != "" {
				return egress.Relay(cmd.Context(), listen, relayTo, cmd.ErrOrStderr())
			}
			return egress.ListenAndServe(cmd.Context(), listen, allow, cmd.ErrOrStderr(), egress.WithAllowedAddresses(addresses))
		},
	}
	cmd.Flags().StringVar(&listen, "listen", ":3128", "address to accept proxy connections on (host:port or unix:PATH)")
	cmd.Flags().StringVar(&relayTo, "relay-to", "", "instead of proxying, copy each connection to the proxy's Unix socket at this path (podman)")
	cmd.Flags().StringArrayVar(&allow, "allow", nil, "host:port a client may reach (repeatable; a host may start with *.)")
	cmd.Flags().StringArrayVar(&addresses, "allow-address", nil, "IP:PORT or IP:* that an allowed host may resolve to although it is not globally reachable (repeatable; from the floor)")
	return cmd
}
