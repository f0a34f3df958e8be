package startcmd

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func nodePlan(start string) plan {
	var p plan
	p.Variables = map[string]string{"CI": "true", "NIXPACKS_METADATA": "node", "NODE_ENV": "production", "NPM_CONFIG_PRODUCTION": "false"}
	p.Phases = map[string]phase{
		"setup":   {NixPkgs: []string{"nodejs_22", "npm-9_x"}},
		"install": {DependsOn: []string{"setup"}, Cmds: []string{"npm ci"}, Paths: []string{"/app/node_modules/.bin"}},
		"build":   {DependsOn: []string{"install"}, Cmds: []string{"npm run build"}},
	}
	p.Start.Cmd = start
	return p
}

func pythonPlan(start string) plan {
	var p plan
	p.Variables = map[string]string{"NIXPACKS_METADATA": "python", "PYTHONUNBUFFERED": "1", "UV_PROJECT_ENVIRONMENT": "/opt/venv"}
	p.Phases = map[string]phase{
		"setup":   {NixPkgs: []string{"python311", "gcc"}},
		"install": {DependsOn: []string{"setup"}, Cmds: []string{"python -m venv --copies /opt/venv && . /opt/venv/bin/activate && pip install uv==$NIXPACKS_UV_VERSION && uv sync --no-dev --frozen"}, Paths: []string{"/opt/venv/bin"}},
	}
	p.Start.Cmd = start
	return p
}

func pkgJSON(scripts string) *fstest.MapFile {
	return file(`{"name":"srv","scripts":{`+scripts+`}}`, 0o644)
}

// nodeApp is an npm-installed app: node_modules/.bin links into packages.
func nodeApp(scripts string) map[string]*fstest.MapFile {
	return map[string]*fstest.MapFile{
		"app/package.json":                       pkgJSON(scripts),
		"app/dist/index.js":                      file("console.log(1)\n", 0o644),
		"app/node_modules/.bin/tsc":              link("../typescript/bin/tsc"),
		"app/node_modules/typescript/bin/tsc":    file("#!/usr/bin/env node\nrequire('../lib/tsc.js')\n", 0o755),
		"app/node_modules/.bin/mcp-proxy":        link("../mcp-proxy/dist/cli.js"),
		"app/node_modules/mcp-proxy/dist/cli.js": file("#!/usr/bin/env node\nimport './index.js'\n", 0o755),
	}
}

// Expected values, written out: where Nixpacks' nix-env put each program.
const (
	node      = "/nix/store/0000zz-nodejs_22/bin/node"
	nodePATH  = "PATH=/app/node_modules/.bin:/nix/store/h4pq8m2c-user-environment/bin:/nix/var/nix/profiles/default/bin:/bin:/sbin:/usr/bin:/usr/sbin"
	pyPATH    = "PATH=/opt/venv/bin:/nix/store/h4pq8m2c-user-environment/bin:/nix/var/nix/profiles/default/bin:/bin:/sbin:/usr/bin:/usr/sbin"
	ubuntuRun = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
)

func envValue(env []string, name string) string {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return kv
		}
	}
	return ""
}

func TestResolve(t *testing.T) {
	goPlan := plan{}
	goPlan.Phases = map[string]phase{"setup": {NixPkgs: []string{"go"}}, "build": {DependsOn: []string{"setup"}, Cmds: []string{"go build -o out"}}}
	goPlan.Start.Cmd, goPlan.Start.RunImage = "./out stdio", "ubuntu:noble"
	uvPlan := pythonPlan("uv run main.py --transport stdio")
	uvApp := venv()
	uvApp["app/main.py"] = file("print(1)\n", 0o644)
	modeApp := nodeApp(`"start":"node dist/index.js"`)
	modePlan := nodePlan("node dist/index.js --mode $MODE --name \"$NIXPACKS_METADATA server\"")
	modePlan.Variables["MODE"] = "stdio"
	cdApp := map[string]*fstest.MapFile{"app/src/github/dist/index.js": file("", 0o644), "app/node_modules/.bin": dir(0o755)}

	tests := []struct {
		name    string
		p       plan
		app     map[string]*fstest.MapFile
		want    []string
		wantWD  string
		wantEnv []string // entries that must be in Result.Env
	}{
		{"node through root's nix profile", nodePlan("node dist/index.js"), nodeApp(`"start":"node dist/index.js"`),
			[]string{node, "dist/index.js"}, "/app", []string{nodePATH, "NODE_ENV=production"}},
		{"npm run start through nested npm run", nodePlan("npm run start"), nodeApp(`"start":"npm run serve -- --stdio","serve":"node dist/index.js"`),
			[]string{node, "dist/index.js", "--stdio"}, "/app", []string{nodePATH}},
		{"npm start runs a node_modules/.bin program with an env #!", nodePlan("npm start"), nodeApp(`"start":"mcp-proxy --port 1"`),
			[]string{node, "/app/node_modules/mcp-proxy/dist/cli.js", "--port", "1"}, "/app", []string{nodePATH}},
		{"pnpm run with a NAME=value prefix", nodePlan("pnpm run start"), nodeApp(`"start":"MCP_TRANSPORT=stdio exec node dist/index.js"`),
			[]string{node, "dist/index.js"}, "/app", []string{nodePATH, "MCP_TRANSPORT=stdio"}},
		{"yarn start with arguments", nodePlan("yarn start --verbose"), nodeApp(`"start":"node dist/index.js"`),
			[]string{node, "dist/index.js", "--verbose"}, "/app", []string{nodePATH}},
		{"bun run start", nodePlan("bun run start"), nodeApp(`"start":"node dist/index.js"`),
			[]string{node, "dist/index.js"}, "/app", []string{nodePATH}},
		{"simple $VAR from plan variables", modePlan, modeApp,
			[]string{node, "dist/index.js", "--mode", "stdio", "--name", "node server"}, "/app", []string{"MODE=stdio"}},
		{"cd DIR && node", nodePlan("cd ./src/github && node ./dist/index.js"), cdApp,
			[]string{node, "./dist/index.js"}, "/app/src/github", []string{nodePATH}},
		{"python console script on PATH through /root/.profile", pythonPlan("mcp-server-fetch"), venv("mcp-server-fetch"),
			[]string{"/opt/venv/bin/mcp-server-fetch"}, "/app", []string{pyPATH, "PYTHONUNBUFFERED=1"}},
		{"python -m", pythonPlan("python -m mcp_server_git --repo /data"), venv(),
			[]string{"/opt/venv/bin/python", "-m", "mcp_server_git", "--repo", "/data"}, "/app", []string{pyPATH}},
		{"uv run FILE.py", uvPlan, uvApp,
			[]string{"/opt/venv/bin/python", "main.py", "--transport", "stdio"}, "/app", []string{"VIRTUAL_ENV=/opt/venv", pyPATH}},
		{"go ./out on a run image", goPlan, map[string]*fstest.MapFile{"app/out": elf()},
			[]string{"/app/out", "stdio"}, "/app", []string{ubuntuRun}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys, cfg := nixpacksImage(tt.p, tt.app)
			res, err := Resolve(fsys, cfg)
			if err != nil {
				t.Fatalf("Resolve() error = %v", err)
			}
			if !slices.Equal(res.Entrypoint, tt.want) {
				t.Errorf("Entrypoint = %q, want %q\nsteps:\n%s", res.Entrypoint, tt.want, strings.Join(res.Steps, "\n"))
			}
			if res.WorkingDir != tt.wantWD {
				t.Errorf("WorkingDir = %q, want %q", res.WorkingDir, tt.wantWD)
			}
			for _, kv := range tt.wantEnv {
				name, _, _ := strings.Cut(kv, "=")
				if got := envValue(res.Env, name); got != kv {
					t.Errorf("Env %s: got %q, want %q", name, got, kv)
				}
			}
		})
	}
}

func TestResolveRefuses(t *testing.T) {
	tests := []struct {
		name       string
		start      string
		scripts    string
		opts       []Option
		wantReason string // "" for an *UnresolvedError
	}{
		{"two commands", "node a.js && node b.js", "", nil, "it runs a second command after the first (&&)"},
		{"or", "node a.js || true", "", nil, "it runs a second command when the first fails (||)"},
		{"pipe", "node dist/index.js | tee /tmp/log", "", nil, "it pipes one command into another (|)"},
		{"redirection", "exec caddy run --config /assets/Caddyfile 2>&1", "", nil, "it redirects output (>)"},
		{"sequence", "node a.js; node b.js", "", nil, "it runs several commands (;)"},
		{"background", "node a.js &", "", nil, "it runs a command in the background (&)"},
		{"command substitution", "node $(cat /app/args)", "", nil, "it uses command substitution ($(...))"},
		{"backticks", "node `cat /app/args`", "", nil, "it uses command substitution (`...`)"},
		{"glob", "java -jar target/*jar", "", nil, "it uses a glob (*) the shell would expand"},
		{"default expansion", "node dist/index.js ${PORT:-3000}", "", nil, "it uses a parameter expansion other than ${NAME}"},
		{"unset variable", "node dist/index.js --port $PORT", "", nil, "it uses $PORT, which the image does not set; its value would come from the container's environment at run time"},
		{"runtime variable", "node dist/index.js --token $NODE_ENV", "", []Option{WithRuntimeEnv("NODE_ENV")}, "it uses $NODE_ENV, which is given at run time; exec form cannot read it"},
		{"tilde", "node ~/server.js", "", nil, "it uses tilde expansion (~)"},
		{"script with &&", "npm run start", `"start":"npm run build && node dist/index.js"`, nil, "it runs a second command after the first (&&)"},
		{"prestart script", "npm run start", `"prestart":"npm run build","start":"node dist/index.js"`, nil, `npm would also run the "prestart" script of /app/package.json`},
		{"shell script file", "bash start.sh", "", nil, "it runs a shell script file"},
		{"unknown script", "npm run serve", `"start":"node dist/index.js"`, nil, ""},
		{"scripts calling themselves", "npm run start", `"start":"npm run start"`, nil, ""},
		{"program not in the image", "mcp-server-everything", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys, cfg := nixpacksImage(nodePlan(tt.start), nodeApp(tt.scripts))
			_, err := Resolve(fsys, cfg, tt.opts...)
			var ns *NeedsShellError
			var un *UnresolvedError
			switch {
			case tt.wantReason != "":
				if !errors.As(err, &ns) || ns.Reason != tt.wantReason {
					t.Fatalf("Resolve() error = %v, want a NeedsShellError with reason %q", err, tt.wantReason)
				}
			case !errors.As(err, &un):
				t.Fatalf("Resolve() error = %v, want an UnresolvedError", err)
			}
		})
	}
}

// A program the runtime user cannot reach (under /root, 0700) is refused:
// the image would be signed and then fail to start.
func TestResolveRefusesWhatTheRuntimeUserCannotRun(t *testing.T) {
	p := nodePlan("server")
	p.Phases["install"] = phase{DependsOn: []string{"setup"}, Paths: []string{"/root/bin"}}
	fsys, cfg := nixpacksImage(p, map[string]*fstest.MapFile{"root/bin/server": elf()})
	_, err := Resolve(fsys, cfg)
	var un *UnresolvedError
	if !errors.As(err, &un) || un.Reason != "the runtime user 65532:65532 cannot search /root on the way to /root/bin/server" {
		t.Fatalf("Resolve() error = %v, want the runtime user refused at /root", err)
	}
	// As root (a policy that keeps uid 0) it resolves.
	res, err := Resolve(fsys, cfg, WithRuntimeUser("0:0"))
	if err != nil || !slices.Equal(res.Entrypoint, []string{"/root/bin/server"}) {
		t.Fatalf("Resolve(as root) = %v, %v; want /root/bin/server", res, err)
	}
}

func TestResolveRefusesShellScripts(t *testing.T) {
	app := nodeApp(`"start":"run-server"`)
	app["app/node_modules/.bin/run-server"] = file("#!/bin/sh\nbasedir=$(dirname \"$0\")\nexec node \"$basedir/../srv/index.js\" \"$@\"\n", 0o755)
	fsys, cfg := nixpacksImage(nodePlan("npm start"), app)
	_, err := Resolve(fsys, cfg)
	var ns *NeedsShellError
	if !errors.As(err, &ns) || ns.Reason != "/app/node_modules/.bin/run-server is a shell script (#!/bin/sh)" {
		t.Fatalf("Resolve() error = %v, want a shell-script refusal", err)
	}
}

func TestProfileCommandSubstitutionIsRefused(t *testing.T) {
	fsys, cfg := nixpacksImage(nodePlan("node dist/index.js"), nodeApp(""))
	fsys["etc/profile.d/extra.sh"] = file("export PATH=$(cat /etc/extra-path):$PATH\n", 0o644)
	_, err := Resolve(fsys, cfg)
	var ns *NeedsShellError
	if !errors.As(err, &ns) || ns.Reason != "it uses command substitution ($(...))" {
		t.Fatalf("Resolve() error = %v, want a NeedsShellError for the profile line", err)
	}
}

// Only exported names reach the program: a plain NAME=value in a profile is
// a shell variable, usable in later lines but not in the environment.
func TestProfileExportRules(t *testing.T) {
	fsys, cfg := nixpacksImage(nodePlan("node dist/index.js"), nodeApp(""))
	fsys["etc/profile.d/extra.sh"] = file("LOCAL_ONLY=/opt/x\nexport EXPORTED=$LOCAL_ONLY/y\nif [ -d /x ]; then\n  export INSIDE_IF=1\nfi\nNODE_ENV=development\n", 0o644)
	res, err := Resolve(fsys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"LOCAL_ONLY": "", "EXPORTED": "EXPORTED=/opt/x/y", "INSIDE_IF": "", "NODE_ENV": "NODE_ENV=development"} {
		if got := envValue(res.Env, name); got != want {
			t.Errorf("Env %s = %q, want %q", name, got, want)
		}
	}
}
