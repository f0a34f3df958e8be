package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/launch/kube"
	"github.com/drydock-dev/drydock/policies"
	"github.com/spf13/cobra"
)

// exitLaunchFailed mirrors `docker run`: the server never started.
const exitLaunchFailed = 125

// runFlags are the flags run shares with mcp-config, which prints a run
// command line.
type runFlags struct {
	trust  trustFlags
	floor  string
	mounts []string
	env    []string
	// egressResolver is the egress gateway's DNS server (host:port).
	egressResolver string
}

func (f *runFlags) add(cmd *cobra.Command) {
	f.trust.addFlags(cmd)
	addFloorFlag(cmd, &f.floor)
	cmd.Flags().StringArrayVar(&f.mounts, "mount", nil, "bind host directory SRC onto a target the policy declares: SRC:TARGET[:rw] (repeatable; read-only unless policy and floor allow rw)")
	cmd.Flags().StringVar(&f.egressResolver, "egress-resolver", "", "network modes allowlist and public: DNS server HOST:PORT the egress gateway resolves allowed hosts with (default: the engine's)")
	cmd.Flags().StringArrayVar(&f.env, "env", nil, "pass the host's value of variable NAME if policy and floor allow it, or fill {{NAME}} in the args after -- if the floor allows it (repeatable; the value never appears in argv or logs)")
}

// verifyOptions are the launch options that decide whether an image runs:
// run and run --kube verify alike.
func (f *runFlags) verifyOptions(ctx context.Context) ([]launch.Option, error) {
	v, err := f.trust.verifier(ctx)
	if err != nil {
		return nil, err
	}
	floor, err := policies.LoadFloor(f.floor)
	if err != nil {
		return nil, err
	}
	return []launch.Option{launch.WithVerifier(v), launch.WithFloor(floor)}, nil
}

// options turns the flags into launch options.
func (f *runFlags) options(ctx context.Context) ([]launch.Option, error) {
	opts, err := f.verifyOptions(ctx)
	if err != nil {
		return nil, err
	}
	opts = append(opts, launch.WithEnv(f.env...))
	if f.egressResolver != "" {
		opts = append(opts, launch.WithEgressResolver(f.egressResolver))
	}
	gw, err := releaseGateway()
	if err != nil {
		return nil, err
	}
	opts = append(opts, gw...)
	for _, s := range f.mounts {
		m, err := launch.ParseMount(s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, launch.WithMounts(m))
	}
	return opts, nil
}

// addFloorFlag is shared by run and verify.
func addFloorFlag(cmd *cobra.Command, floor *string) {
	cmd.Flags().StringVar(floor, "floor", "", "floor file: this machine's maximum for any image's policy (default ~/.config/drydock/floor.yaml; if that is missing, a built-in strict floor)")
}

// NewCmdRun verifies an image and runs it under its policy over stdio.
func NewCmdRun() *cobra.Command {
	var (
		f  runFlags
		kf kubeRunFlags
	)
	cmd := &cobra.Command{
		Use:   "run IMAGE (--key cosign.pub | --trusted-root FILE --certificate-identity ID --certificate-oidc-issuer URL) [--floor FILE] [--mount SRC:TARGET[:rw]] [--env NAME] [-- ARGS...] [--kube [--kubeconfig F] [--context C] [--namespace NS]]",
		Short: "Verify an MCP server image and run it sandboxed, proxying stdio",
		Long: `Resolve IMAGE once to a digest, verify its signature (a public key, or keyless:
a trusted root and a certificate identity, the same flags as verify) and policy label, check
the policy against this machine's floor, then create a container from exactly
that digest with the policy applied (read-only root filesystem, the policy's
network mode, all capabilities dropped, no-new-privileges, memory/cpu/pids
caps, noexec tmpfs, numeric non-root user, an init process, log driver none,
private IPC and cgroup namespaces). The container is inspected and not started
if the engine did not apply every setting or added one of its own (host
namespaces, sysctls, extra hosts, another runtime, GPUs, volumes). An image
with a VOLUME that no policy tmpfs or --mount covers is refused. stdin/
stdout are proxied byte for byte (the MCP stream), the server's stderr goes to
stderr, SIGINT/SIGTERM are forwarded and the container is removed on exit.

Floor: --floor FILE, else ~/.config/drydock/floor.yaml, else a built-in strict
floor (network none, at most 1Gi/2 CPUs/256 pids, no added capabilities, no
host mounts, no environment variables). An image whose policy asks for more
is refused with every violation listed.

--mount SRC:TARGET[:rw] binds a host directory onto a target the policy
declares; SRC (symlinks resolved) must lie under the floor's
mounts.allowSources, and it is read-only unless the policy declares the target
writable, the floor sets mounts.allowWritable and you write :rw. SRC is
refused if anyone but root and you could change a directory on the way to it
before the engine mounts it, and, read-only with engines before API 1.44, if
it has mounts below it (those would stay writable).
--env NAME passes this process's value of NAME when both the policy's
env.allow and the floor's env.allow list it. The value goes to the engine in
the API request only, never in argv or logs.

Network modes allowlist and public: the server runs in the network namespace
of a relay container on no network (loopback only, no route to the host or
anywhere else); the relay passes 127.0.0.1:3128, where HTTP_PROXY and
HTTPS_PROXY point (plus NODE_USE_ENV_PROXY=1 for node and JAVA_TOOL_OPTIONS
proxy properties for java), to an egress gateway container through a Unix socket. The gateway is drydock
itself, from the gateway image named by the floor's egress.image and
egress.key (verified with that key, pulled by digest, image ID checked before
anything is created), else this build's release default, else this binary
(which must then be a static Linux build: CGO_ENABLED=0; otherwise allowlist
and public images are refused: set the floor's egress field, made with
"drydock egress-image"). For clients that ignore the proxy, the relay's DNS
(127.0.0.1:53) answers allowed names with loopback addresses and the gateway
forwards TLS on 443 by SNI and HTTP on 80 by Host; tcp://host:port entries
are forwarded at L4 to exactly that host and port. Allowlist mode allows
exactly the label's entries; public mode any host whose addresses are all
public (never loopback, private, link-local, CGNAT, multicast, the engine's
networks or this host), if the floor lists public. Each host is resolved once
and the checked address dialled; non-global addresses are refused unless the
floor's network.hosts lists that exact IP (not in public mode). Each refusal
is one stderr line: kind, host:port, address, why. Gateway, relay and volume
are removed with the server. --egress-resolver sends the gateway's lookups to
another DNS server.

--kube runs the verified image in a Kubernetes cluster instead (--kubeconfig,
--context, --namespace as kubectl names them; KUBECONFIG honoured): the Pod
"drydock kube manifest --kind pod" prints, under a generated name, with
stdinOnce and restartPolicy Never, behind its NetworkPolicy (created first).
drydock waits until the container runs, attaches stdin/stdout/stderr through
the API server (pods/attach: WebSocket, SPDY fallback) and pumps the MCP
stream until stdin ends or the server exits; the Pod and NetworkPolicy are
deleted on every way out, SIGINT/SIGTERM included. A refused image creates
nothing. Needs RBAC for pods (create, get, watch, delete), pods/attach
(create, get) and networkpolicies (create, delete). Not yet with --mount,
--env, --egress-resolver or server arguments.

Use it as the "command" of an MCP server in Claude Desktop, Cursor or VS Code
(see "drydock mcp-config"). Exits with the server's exit code, or 125 when it
refuses or cannot start it. Container engine: DOCKER_HOST or the default
socket; podman's Docker-compatible service works too.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := kf.check(cmd, &f, args[1:]); err != nil {
				return &exitCodeError{code: exitLaunchFailed, err: err}
			}
			if kf.on {
				return runKube(cmd, &f, &kf, args[0])
			}
			opts, err := f.options(cmd.Context())
			if err != nil {
				return &exitCodeError{code: exitLaunchFailed, err: err}
			}
			code, err := launch.Run(cmd.Context(), args[0], append(opts,
				launch.WithArgs(args[1:]),
				launch.WithStdio(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()),
			)...)
			if err != nil {
				return &exitCodeError{code: exitLaunchFailed, err: err}
			}
			if code != 0 {
				return &exitCodeError{code: code}
			}
			return nil
		},
	}
	f.add(cmd)
	kf.add(cmd)
	return cmd
}

// kubeRunFlags select the cluster of run --kube, named as kubectl names them.
type kubeRunFlags struct {
	on                             bool
	kubeconfig, context, namespace string
}

func (k *kubeRunFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&k.on, "kube", false, "run the server as a Pod in a Kubernetes cluster and speak MCP over kubectl-attach's stream (see README, \"Kubernetes\")")
	fl.StringVar(&k.kubeconfig, "kubeconfig", "", "with --kube: kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
	fl.StringVar(&k.context, "context", "", "with --kube: kubeconfig context (default its current-context)")
	fl.StringVar(&k.namespace, "namespace", "", "with --kube: namespace of the Pod (default the context's, else default)")
}

// check refuses cluster flags without --kube, and with --kube the flags
// that have no Kubernetes form yet.
func (k *kubeRunFlags) check(cmd *cobra.Command, f *runFlags, serverArgs []string) error {
	if !k.on {
		for _, n := range []string{"kubeconfig", "context", "namespace"} {
			if cmd.Flags().Changed(n) {
				return fmt.Errorf("--%s selects a cluster for --kube: add --kube, or drop --%s", n, n)
			}
		}
		return nil
	}
	if len(f.mounts) > 0 || len(f.env) > 0 || f.egressResolver != "" || len(serverArgs) > 0 {
		return errors.New("--kube does not take --mount, --env, --egress-resolver or server arguments yet: run without them, or without --kube")
	}
	return nil
}

// runKube is run --kube: the same verification, then the Pod kube manifest
// prints, reached over pods/attach.
func runKube(cmd *cobra.Command, f *runFlags, k *kubeRunFlags, ref string) error {
	verify, err := f.verifyOptions(cmd.Context())
	if err != nil {
		return &exitCodeError{code: exitLaunchFailed, err: err}
	}
	code, err := kube.Run(cmd.Context(), ref, kube.WithVerify(verify...),
		kube.WithKubeconfig(k.kubeconfig), kube.WithContext(k.context), kube.WithRunNamespace(k.namespace),
		kube.WithRunStdio(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()))
	if err != nil {
		return &exitCodeError{code: exitLaunchFailed, err: err}
	}
	if code != 0 {
		return &exitCodeError{code: code}
	}
	return nil
}
