package main

import (
	"github.com/drydock-dev/drydock/launch/egress"
	"github.com/spf13/cobra"
)

// NewCmdEgressProxy is the egress gateway and relay drydock runs in its own
// containers for servers in network mode allowlist or public. Hidden:
// users never run it.
func NewCmdEgressProxy() *cobra.Command {
	var listen, relayTo, dns, resolver string
	var allow, tcp, addresses, deny, testPublic []string
	var relayed, public bool
	cmd := &cobra.Command{
		Use:    "egress-proxy --listen :3128 --allow HOST:PORT...",
		Short:  "Run the egress gateway or relay of a server in network mode allowlist or public (used inside drydock's containers)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if relayTo != "" {
				ls, err := egress.RelayListeners(tcp)
				if err != nil {
					return err
				}
				return egress.Relay(cmd.Context(), egress.RelayConfig{To: relayTo, Listeners: ls, DNS: dns, Names: egress.NewNames(allow, tcp, public)}, cmd.ErrOrStderr())
			}
			opts := []egress.Option{egress.WithAllowedAddresses(addresses), egress.WithTCP(tcp), egress.WithPublic(public),
				egress.WithDenied(deny), egress.WithTestPublic(testPublic)}
			if resolver != "" {
				opts = append(opts, egress.WithResolver(resolver))
			}
			if relayed {
				return egress.ListenAndServeRelayed(cmd.Context(), listen, allow, cmd.ErrOrStderr(), opts...)
			}
			return egress.ListenAndServe(cmd.Context(), listen, allow, cmd.ErrOrStderr(), opts...)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", ":3128", "address to accept proxy connections on (host:port or unix:PATH)")
	f.StringVar(&relayTo, "relay-to", "", "be the relay: copy each connection of its listeners to the gateway's Unix socket at this path")
	f.StringVar(&dns, "dns", egress.DNSListen, "relay: UDP address of the DNS responder that answers allowed names with the relay's addresses (empty: none)")
	f.BoolVar(&relayed, "relayed", false, "gateway: every connection starts with a relay's header (transparent TLS, HTTP and TCP)")
	f.StringArrayVar(&allow, "allow", nil, "host:port a client may reach over HTTP(S) (repeatable; a host may start with *.)")
	f.StringArrayVar(&tcp, "tcp", nil, "host:port of a tcp:// entry, forwarded at L4 (repeatable; numbered in order)")
	f.BoolVar(&public, "public", false, "network mode public: any host whose addresses are all globally reachable")
	f.StringArrayVar(&addresses, "allow-address", nil, "IP:PORT or IP:* that an allowed host may resolve to although it is not globally reachable (repeatable; from the floor)")
	f.StringArrayVar(&deny, "deny", nil, "address or CIDR never connected to unless the floor lists it: the engine's networks, the host (repeatable)")
	f.StringVar(&resolver, "resolver", "", "DNS server host:port for the gateway's lookups (default: the system's)")
	f.StringArrayVar(&testPublic, "test-public", nil, "address or CIDR to count as public (tests only)")
	_ = f.MarkHidden("test-public")
	return cmd
}
