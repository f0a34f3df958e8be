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

// nixShHome is the Nix profile hook of the Nixpacks fixture images (and of
// single-user Nix installs): PATH lines guarded by a test of HOME, with no
// nix-daemon.sh to source.
const nixShHome = `# Nix
if [ -n "${HOME-}" ]; then
  export NIX_PROFILES="/nix/var/nix/profiles/default $HOME/.nix-profile"
  export PATH="$HOME/.nix-profile/bin:/nix/var/nix/profiles/default/bin:$PATH"
fi
`

// A login shell runs an `if [ TEST ]; then … fi` block whose test the image
// decides: the block's assignments count, HOME is what the engine gives the
// upstream's user, and a block drydock cannot decide is skipped as before.
func TestProfileIfBlocks(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		want    map[string]string // exported variables in Result.Env ("" = absent)
	}{
		{"node on PATH through a HOME-guarded nix.sh", nixShHome,
			map[string]string{"PATH": nodePATH, "NIX_PROFILES": "NIX_PROFILES=/nix/var/nix/profiles/default /root/.nix-profile", "HOME": ""}},
		{"-z of an unset variable, ${X:-} form", "if [ -z \"${UNSET_HERE:-}\" ]; then\n export MARK=z\nfi\n", map[string]string{"MARK": "MARK=z"}},
		{"-n of an empty word is false", "if [ -n \"$UNSET_HERE\" ]; then\n export MARK=n\nfi\n", map[string]string{"MARK": ""}},
		{"-d of an image directory", "if [ -d /nix/var/nix/profiles ]; then\n export MARK=d\nfi\n", map[string]string{"MARK": "MARK=d"}},
		{"-f of a directory is false", "if [ -f /nix/var/nix/profiles ]; then\n export MARK=f\nfi\n", map[string]string{"MARK": ""}},
		{"-e through a symlink behind /root", "if [ -e $HOME/.nix-profile/bin/node ]; then\n export MARK=e\nfi\n", map[string]string{"MARK": "MARK=e"}},
		{"a one-word test is not decided", "if [ \"$HOME\" ]; then\n export MARK=1\nfi\n", map[string]string{"MARK": ""}},
		{"an unquoted empty word is not decided", "if [ -n $UNSET_HERE ]; then\n export MARK=1\nfi\n", map[string]string{"MARK": ""}},
		{"else is not decided", "if [ -d /nix ]; then\n export MARK=1\nelse\n export MARK=2\nfi\n", map[string]string{"MARK": ""}},
		{"a nested block is not decided", "if [ -d /nix ]; then\n if [ -d /app ]; then\n  export MARK=1\n fi\nfi\n", map[string]string{"MARK": ""}},
		{"a relative path is not decided", "if [ -d app ]; then\n export MARK=1\nfi\n", map[string]string{"MARK": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys, cfg := nixpacksImage(nodePlan("node dist/index.js"), nodeApp(""))
			if tt.want["PATH"] != "" {
				// Only the guarded hook puts the profile on PATH.
				delete(fsys, "etc/profile.d/nix.sh")
			}
			fsys["etc/profile.d/zz-test.sh"] = file(tt.profile, 0o644)
			res, err := Resolve(fsys, cfg)
			if err != nil {
				t.Fatalf("Resolve() error = %v", err)
			}
			if want := []string{node, "dist/index.js"}; !slices.Equal(res.Entrypoint, want) {
				t.Errorf("Entrypoint = %q, want %q", res.Entrypoint, want)
			}
			for name, want := range tt.want {
				if got := envValue(res.Env, name); got != want {
					t.Errorf("Env %s = %q, want %q\nsteps:\n%s", name, got, want, strings.Join(res.Steps, "\n"))
				}
			}
		})
	}
}

// A test of a variable the policy gives at run time is not decided at
// harden time: the block is skipped, not taken as false or refused.
func TestProfileIfBlockRuntimeVariable(t *testing.T) {
	fsys, cfg := nixpacksImage(nodePlan("node dist/index.js"), nodeApp(""))
	fsys["etc/profile.d/zz-test.sh"] = file("if [ -n \"${GITHUB_TOKEN-}\" ]; then\n export MARK=1\nfi\n", 0o644)
	res, err := Resolve(fsys, cfg, WithRuntimeEnv("GITHUB_TOKEN"))
	if err != nil {
		t.Fatalf("Resolve() error = %v", err)
	}
	if got := envValue(res.Env, "MARK"); got != "" {
		t.Errorf("Env MARK = %q, want absent", got)
	}
	if !slices.ContainsFunc(res.Steps, func(s string) bool { return strings.Contains(s, "zz-test.sh: 3 line(s) are not plain assignments") }) {
		t.Errorf("steps do not report the skipped block:\n%s", strings.Join(res.Steps, "\n"))
	}
}

// The result of a rebase keeps the app layers on a new base: the upstream
// base's /etc/profile and /etc/profile.d (where a Nixpacks image's Nix hook
// lives) are gone, yet they decided what the start command meant. The
// profile chain is read from the upstream; the program from the result.
func TestResolveProfileFromUpstream(t *testing.T) {
	upstream, cfg := nixpacksImage(nodePlan("npm run start"), nodeApp(`"start":"mcp-proxy --port 1"`))
	delete(upstream, "etc/profile.d/nix.sh")
	upstream["etc/profile.d/nix.sh"] = file(nixShHome, 0o644)
	result := fstest.MapFS{}
	for name, f := range upstream {
		if !strings.HasPrefix(name, "etc/") && !strings.HasPrefix(name, "usr/") && name != "bin" && name != "sbin" {
			result[name] = f
		}
	}
	result["etc/passwd"] = file("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n", 0o644)
	result["etc/group"] = file("root:x:0:\nnonroot:x:65532:\n", 0o644)

	res, err := Resolve(result, cfg, WithProfileFS(upstream))
	if err != nil {
		t.Fatalf("Resolve(WithProfileFS) error = %v", err)
	}
	if want := []string{node, "/app/node_modules/mcp-proxy/dist/cli.js", "--port", "1"}; !slices.Equal(res.Entrypoint, want) {
		t.Errorf("Entrypoint = %q, want %q\nsteps:\n%s", res.Entrypoint, want, strings.Join(res.Steps, "\n"))
	}
	if got := envValue(res.Env, "PATH"); got != "PATH=/app/node_modules/.bin:/nix/store/h4pq8m2c-user-environment/bin:/nix/var/nix/profiles/default/bin" {
		t.Errorf("Env PATH = %q (the result has no /bin or /usr/bin)", got)
	}
	// Read from the result alone, the profile chain is lost with the base.
	var ue *UnresolvedError
	if _, err := Resolve(result, cfg); !errors.As(err, &ue) || !strings.Contains(ue.Reason, "node is not on PATH") {
		t.Errorf("Resolve(result only) error = %v, want node not on PATH", err)
	}
}
