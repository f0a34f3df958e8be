// Command mcpserver is drydock's fixture MCP server: a tiny stdio server whose
// tools let tests observe the sandbox a container runs in (filesystem, network,
// identity, capabilities), check that exit codes propagate, and shell out
// to a base tool (git) the way git servers do.
//
// It logs only to stderr because stdout carries the MCP stream.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// exitDelay gives the transport time to flush the exit tool's reply before
// the process goes away.
const exitDelay = 200 * time.Millisecond

// subcommand is empty unless set at link time (-ldflags "-X
// main.subcommand=stdio"). Then the server serves only when started as
// `mcp-server stdio`, as cobra-based Go MCP servers such as
// github-mcp-server do, and otherwise prints its usage and exits 2. The
// Nixpacks Go fixture sets it, so that a start command cut down to its
// program (arguments dropped) visibly fails.
var subcommand string

func main() {
	log.SetOutput(os.Stderr)
	log.SetPrefix("mcpserver: ")
	if subcommand != "" && (len(os.Args) < 2 || os.Args[1] != subcommand) {
		log.Printf("usage: %s %s (serve MCP on stdin/stdout)", os.Args[0], subcommand)
		os.Exit(2)
	}
	if err := newServer().Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		log.Fatalf("serving: %v", err)
	}
}

func newServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "drydock-fixture", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Return the input text unchanged."}, echo)
	mcp.AddTool(s, &mcp.Tool{Name: "probe", Description: "Report what the sandbox allows: writes, network, identity, capabilities."}, probeTool)
	mcp.AddTool(s, &mcp.Tool{Name: "exit", Description: "Exit the server process with the given code shortly after replying."}, exitTool)
	mcp.AddTool(s, &mcp.Tool{Name: "git_version", Description: "Run `git --version` from PATH and return its output."}, gitVersion)
	return s
}

// GitVersionResult is the output of the git_version tool.
type GitVersionResult struct {
	Version string `json:"version"`
}

// gitVersion needs git and its shared libraries in the image: the tool
// fails (isError) when either is missing, as a git server's tools would.
func gitVersion(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, GitVersionResult, error) {
	out, err := exec.CommandContext(ctx, "git", "--version").CombinedOutput()
	if err != nil {
		return nil, GitVersionResult{}, fmt.Errorf("git --version: %v: %s", err, strings.TrimSpace(string(out)))
	}
	v := strings.TrimSpace(string(out))
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: v}}}, GitVersionResult{Version: v}, nil
}

// EchoArgs is the input and output of the echo tool.
type EchoArgs struct {
	Text string `json:"text" jsonschema:"text to return unchanged"`
}

func echo(_ context.Context, _ *mcp.CallToolRequest, in EchoArgs) (*mcp.CallToolResult, EchoArgs, error) {
	// Explicit content so the text block is the input itself, not its JSON encoding.
	res := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}
	return res, in, nil
}

// ExitArgs is the input of the exit tool.
type ExitArgs struct {
	Code int `json:"code" jsonschema:"process exit code"`
}

// ExitResult acknowledges the scheduled exit.
type ExitResult struct {
	Code int `json:"code"`
}

func exitTool(_ context.Context, _ *mcp.CallToolRequest, in ExitArgs) (*mcp.CallToolResult, ExitResult, error) {
	code := in.Code
	time.AfterFunc(exitDelay, func() {
		log.Printf("exiting with code %d as requested", code)
		os.Exit(code)
	})
	return nil, ExitResult{Code: code}, nil
}

func probeTool(ctx context.Context, _ *mcp.CallToolRequest, in ProbeArgs) (*mcp.CallToolResult, ProbeResult, error) {
	// Returning a nil result makes the SDK send the report both as structured
	// output and as JSON text content.
	return nil, probe(ctx, in), nil
}
