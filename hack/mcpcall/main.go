// Command mcpcall is a small MCP client for the demo and the benchmarks: it
// starts a stdio MCP server command, initializes, calls one tool and prints
// the tool's text answer on stdout and how long each step took on stderr.
//
//	mcpcall [-tool echo] [-args '{"text":"hi"}'] -- COMMAND [ARGS...]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	tool := flag.String("tool", "echo", "tool to call")
	args := flag.String("args", `{"text":"hello from a hardened, verified MCP server"}`, "tool arguments as JSON")
	quiet := flag.Bool("quiet", false, "print timings only")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: mcpcall [-tool NAME] [-args JSON] -- COMMAND [ARGS...]")
		os.Exit(2)
	}
	if err := run(*tool, *args, *quiet, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mcpcall:", err)
		os.Exit(1)
	}
}

func run(tool, rawArgs string, quiet bool, command []string) error {
	var args map[string]any
	if err := json.Unmarshal([]byte(rawArgs), &args); err != nil {
		return fmt.Errorf("parsing -args: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	c := mcp.NewClient(&mcp.Implementation{Name: "mcpcall", Version: "1"}, nil)
	s, err := c.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		return fmt.Errorf("initializing %s: %w", strings.Join(command, " "), err)
	}
	initialized := time.Since(start)
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return fmt.Errorf("calling %s: %w", tool, err)
	}
	called := time.Since(start)
	if err := s.Close(); err != nil {
		return fmt.Errorf("closing: %w", err)
	}
	if !quiet {
		for _, content := range res.Content {
			if t, ok := content.(*mcp.TextContent); ok {
				fmt.Println(t.Text)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "mcpcall: initialize reply after %.3fs, %s reply after %.3fs\n", initialized.Seconds(), tool, called.Seconds())
	if res.IsError {
		return fmt.Errorf("tool %s returned an error", tool)
	}
	return nil
}
