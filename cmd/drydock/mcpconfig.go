package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/drydock-dev/drydock/launch"
	"github.com/spf13/cobra"
)

// NewCmdMCPConfig prints the MCP client configuration that starts IMAGE
// through `drydock run`.
func NewCmdMCPConfig() *cobra.Command {
	var (
		f          runFlags
		kf         kubeRunFlags
		client, nm string
	)
	cmd := &cobra.Command{
		Use:   "mcp-config IMAGE --client claude|cursor|vscode (--key cosign.pub | --trusted-root FILE --certificate-identity ID --certificate-oidc-issuer URL) [--floor FILE] [--mount SRC:TARGET[:rw]] [--env NAME] [--egress-resolver HOST:PORT] [--kube [--kubeconfig F] [--context C] [--namespace NS]]",
		Short: "Print the MCP client config snippet that runs IMAGE through drydock run",
		Long: `Print the JSON an MCP client needs to start IMAGE with "drydock run": for
Claude Desktop (claude_desktop_config.json) and Cursor (.cursor/mcp.json) an
"mcpServers" entry, for VS Code (.vscode/mcp.json) a "servers" entry of type
stdio. Paths (drydock itself, --key, --floor, mount sources) are made absolute
because clients start servers from an unknown directory; --egress-resolver
is carried over as given, and so are --kube and its cluster flags (the
kubeconfig path made absolute). Nothing is
contacted and no secret is written: for --env NAME the snippet has a
placeholder (Claude) or ${env:NAME} (Cursor, VS Code).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the drydock binary: %w", err)
			}
			if err := kf.check(cmd, &f, nil); err != nil {
				return err
			}
			runArgs, err := f.commandLine()
			if err != nil {
				return err
			}
			runArgs = append(runArgs, kf.commandLine()...)
			out, err := launch.ClientConfig(client, launch.ServerCommand{
				Name: nm, Command: self, Image: args[0], Args: runArgs, Env: f.env,
			})
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f.add(cmd)
	kf.add(cmd)
	cmd.Flags().StringVar(&client, "client", "", "MCP client: "+strings.Join(launch.Clients, ", ")+" (required)")
	_ = cmd.MarkFlagRequired("client")
	cmd.Flags().StringVar(&nm, "name", "", "server name in the config (default: the image repository's last path element)")
	return cmd
}

// commandLine renders the flags back as run arguments with absolute paths.
func (f *runFlags) commandLine() ([]string, error) {
	args, err := f.trust.commandLine()
	if err != nil {
		return nil, err
	}
	if f.floor != "" {
		floor, err := filepath.Abs(f.floor)
		if err != nil {
			return nil, fmt.Errorf("--floor %s: %w", f.floor, err)
		}
		args = append(args, "--floor", floor)
	}
	for _, s := range f.mounts {
		m, err := launch.ParseMount(s)
		if err != nil {
			return nil, err
		}
		if m.Source, err = filepath.Abs(m.Source); err != nil {
			return nil, fmt.Errorf("--mount %s: %w", s, err)
		}
		args = append(args, "--mount", m.String())
	}
	for _, n := range f.env {
		args = append(args, "--env", n)
	}
	if f.egressResolver != "" {
		// Checked here as run checks it: a client config that fails at
		// every launch is found out only in the client's log.
		if _, _, err := net.SplitHostPort(f.egressResolver); err != nil {
			return nil, fmt.Errorf("--egress-resolver %q: write host:port, e.g. 10.0.0.53:53", f.egressResolver)
		}
		args = append(args, "--egress-resolver", f.egressResolver)
	}
	return args, nil
}

// commandLine renders --kube and its cluster flags back as run arguments.
func (k *kubeRunFlags) commandLine() []string {
	if !k.on {
		return nil
	}
	args := []string{"--kube"}
	if k.kubeconfig != "" {
		// The client starts drydock from a directory of its own.
		abs, err := filepath.Abs(k.kubeconfig)
		if err == nil {
			args = append(args, "--kubeconfig", abs)
		} else {
			args = append(args, "--kubeconfig", k.kubeconfig)
		}
	}
	if k.context != "" {
		args = append(args, "--context", k.context)
	}
	if k.namespace != "" {
		args = append(args, "--namespace", k.namespace)
	}
	return args
}
