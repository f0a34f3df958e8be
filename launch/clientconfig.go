package launch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/drydock-dev/drydock/internal/inputerr"
	"github.com/google/go-containerregistry/pkg/name"
)

// Clients whose MCP configuration ClientConfig can write.
var Clients = []string{"claude", "cursor", "vscode"}

// ServerCommand is a `drydock run` command line as an MCP client starts it.
type ServerCommand struct {
	Name    string   // the server's key in the config; default: the repository's last path element
	Command string   // absolute path of the drydock binary (clients rarely have the user's PATH)
	Image   string   // as given: a tag keeps updates flowing, a digest pins
	Args    []string // run flags after the image: --key, --floor, --mount, --env
	Env     []string // names passed with --env; the client must put them in drydock's environment
}

type serverEntry struct {
	Type    string            `json:"type,omitempty"`
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env,omitempty"`
}

// ClientConfig returns the JSON snippet that makes client start the server
// through `drydock run`: Claude Desktop (claude_desktop_config.json) and
// Cursor (.cursor/mcp.json) use "mcpServers", VS Code (.vscode/mcp.json)
// uses "servers" with "type": "stdio". Env values are never written: Claude
// gets a placeholder to fill in, Cursor and VS Code read the variable from
// their own environment with ${env:NAME}.
func ClientConfig(client string, s ServerCommand) ([]byte, error) {
	ref, err := name.ParseReference(s.Image)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", s.Image, err)
	}
	if s.Name == "" {
		s.Name = path.Base(ref.Context().RepositoryStr())
	}
	e := serverEntry{Command: s.Command, Args: append([]string{"run", s.Image}, s.Args...)}
	if len(s.Env) > 0 {
		e.Env = map[string]string{}
	}
	for _, n := range s.Env {
		switch client {
		case "claude":
			e.Env[n] = "<value of " + n + ">"
		default:
			e.Env[n] = "${env:" + n + "}"
		}
	}
	var doc any
	switch client {
	case "claude", "cursor":
		doc = map[string]any{"mcpServers": map[string]serverEntry{s.Name: e}}
	case "vscode":
		e.Type = "stdio"
		doc = map[string]any{"servers": map[string]serverEntry{s.Name: e}}
	default:
		return nil, inputerr.Field("client", strconv.Quote(client), fmt.Errorf("use one of %s", strings.Join(Clients, ", ")))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding %s config: %w", client, err)
	}
	return buf.Bytes(), nil
}
