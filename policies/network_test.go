package policies

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateNetwork(t *testing.T) {
	tests := []struct {
		name    string
		n       Network
		wantErr string // "" means valid
	}{
		{"allowlist with a TCP entry", Network{Mode: NetworkAllowlist, Allow: []string{"api.github.com:443", "tcp://db.internal:5432"}}, ""},
		{"allowlist of only a TCP entry", Network{Mode: NetworkAllowlist, Allow: []string{"tcp://10.0.0.5:6379"}}, ""},
		{"public alone", Network{Mode: NetworkPublic}, ""},
		{"public with a TCP entry", Network{Mode: NetworkPublic, Allow: []string{"tcp://db.internal:5432"}}, ""},
		{"public with an HTTP entry", Network{Mode: NetworkPublic, Allow: []string{"api.github.com:443"}},
			`network.allow[0]: "api.github.com:443": mode "public" reaches any public host over HTTP(S) already; list only tcp://host:port entries`},
		{"TCP without a port", Network{Mode: NetworkAllowlist, Allow: []string{"tcp://db.internal"}},
			`network.allow[0]: "tcp://db.internal" must be tcp://host:port with a port from 1 to 65535`},
		{"TCP port zero", Network{Mode: NetworkAllowlist, Allow: []string{"x:443", "tcp://db:0"}},
			`network.allow[1]: "tcp://db:0" must be tcp://host:port with a port from 1 to 65535`},
		{"TCP wildcard", Network{Mode: NetworkAllowlist, Allow: []string{"tcp://*.internal:5432"}},
			`network.allow[0]: "tcp://*.internal:5432": a tcp:// entry names exactly one host; wildcards are for HTTP(S) entries`},
		{"other scheme", Network{Mode: NetworkAllowlist, Allow: []string{"udp://dns:53"}},
			`network.allow[0]: "udp://dns:53" must be host:port (or tcp://host:port for a TCP service)`},
		{"URL instead of host", Network{Mode: NetworkAllowlist, Allow: []string{"user@host:443"}},
			`network.allow[0]: "user@host:443": "user@host" is not a host name or IP address`},
		{"none with entries", Network{Mode: NetworkNone, Allow: []string{"tcp://db:5432"}},
			`network.allow: only valid with mode "allowlist" or "public"`},
		{"unknown mode", Network{Mode: "host"}, `network.mode: "host" is not one of none, allowlist, public, bridge`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Default()
			p.Network = tt.n
			err := p.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestFloorNetworkTCPAndPublic(t *testing.T) {
	f := StrictFloor()
	f.Network = FloorNetwork{Modes: []string{NetworkNone, NetworkAllowlist}, Hosts: []string{"api.github.com:443", "tcp://db.internal:5432", "tcp://*.cache.internal:*"}}
	tests := []struct {
		name    string
		n       Network
		wantErr string
	}{
		{"TCP entry matching a tcp:// pattern", Network{Mode: NetworkAllowlist, Allow: []string{"tcp://db.internal:5432"}}, ""},
		{"TCP entry matching a wildcard tcp:// pattern", Network{Mode: NetworkAllowlist, Allow: []string{"tcp://redis.cache.internal:6379"}}, ""},
		{"TCP entry on another port", Network{Mode: NetworkAllowlist, Allow: []string{"tcp://db.internal:5433"}},
			`network.allow[0] "tcp://db.internal:5433" matches none of the floor's hosts`},
		{"TCP entry to a host allowed only for HTTP(S)", Network{Mode: NetworkAllowlist, Allow: []string{"tcp://api.github.com:443"}},
			`network.allow[0] "tcp://api.github.com:443" matches none of the floor's hosts`},
		{"HTTP(S) entry to a host allowed only for TCP", Network{Mode: NetworkAllowlist, Allow: []string{"db.internal:5432"}},
			`network.allow[0] "db.internal:5432" matches none of the floor's hosts`},
		{"public without the floor listing it", Network{Mode: NetworkPublic}, `network.mode "public" is not among the floor's network modes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Default()
			p.Network = tt.n
			require.NoError(t, p.Validate())
			err := f.Check(p)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	f.Network.Modes = append(f.Network.Modes, NetworkPublic)
	p := Default()
	p.Network = Network{Mode: NetworkPublic, Allow: []string{"tcp://db.internal:5432"}}
	require.NoError(t, f.Check(p), "a floor listing public allows it")

	_, err := ParseFloor([]byte("apiVersion: drydock.dev/v1\nkind: Floor\nnetwork: {modes: [public], hosts: [\"tcp://db:5432\", \"tcp://db\"]}\n"), "floor.yaml", "/home/dev")
	require.ErrorContains(t, err, "network.hosts[1]")
	require.NotContains(t, err.Error(), "network.hosts[0]")
	require.NotContains(t, err.Error(), "network.modes")
}

func TestTranslateEgress(t *testing.T) {
	p := Default()
	p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"api.github.com:443", "tcp://db.internal:5432", "tcp://10.0.0.5:6379"}}
	s, err := Translate(p)
	require.NoError(t, err)
	require.Equal(t, &Egress{Allow: []string{"api.github.com:443"}, TCP: []string{"db.internal:5432", "10.0.0.5:6379"}, ProxyHost: "127.0.0.1", ProxyPort: 3128}, s.Egress)
	require.Equal(t, "<internal-network>", s.NetworkMode)

	p.Network = Network{Mode: NetworkPublic}
	s, err = Translate(p)
	require.NoError(t, err)
	require.Equal(t, &Egress{Public: true, ProxyHost: "127.0.0.1", ProxyPort: 3128}, s.Egress)
	require.Contains(t, s.Env, "HTTPS_PROXY=http://127.0.0.1:3128")
}

func TestProxyRuntime(t *testing.T) {
	tests := []struct {
		name                 string
		entrypoint, cmd, env []string
		want                 string
	}{
		{"node entrypoint", []string{"node", "dist/index.js"}, nil, nil, "node"},
		{"npx under sh -c", []string{"/bin/sh", "-c"}, []string{"npx -y server"}, nil, "node"},
		{"python by path", []string{"/usr/local/bin/python3.11", "-m", "srv"}, nil, nil, "python"},
		{"java", []string{"java", "-jar", "/app.jar"}, nil, nil, "java"},
		{"java by JAVA_HOME", []string{"/app/run"}, nil, []string{"JAVA_HOME=/opt/jdk"}, "java"},
		{"node by NODE_VERSION", []string{"/app/run"}, nil, []string{"NODE_VERSION=20.1.0"}, "node"},
		{"static binary", []string{"/server"}, nil, []string{"PATH=/bin"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ProxyRuntime(tt.entrypoint, tt.cmd, tt.env))
		})
	}
}

func TestRuntimeProxyEnv(t *testing.T) {
	require.Equal(t, []string{"NODE_USE_ENV_PROXY=1"}, RuntimeProxyEnv("node", "127.0.0.1", 3128, nil))
	require.Equal(t, []string{"JAVA_TOOL_OPTIONS=-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=3128 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=3128 -Dhttp.nonProxyHosts=localhost|127.0.0.1"},
		RuntimeProxyEnv("java", "127.0.0.1", 3128, nil))
	require.Equal(t, []string{"JAVA_TOOL_OPTIONS=-Xmx256m -Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=3128 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=3128 -Dhttp.nonProxyHosts=localhost|127.0.0.1"},
		RuntimeProxyEnv("java", "127.0.0.1", 3128, []string{"JAVA_TOOL_OPTIONS=-Xmx256m"}), "the image's own options are kept")
	require.Nil(t, RuntimeProxyEnv("python", "127.0.0.1", 3128, nil), "python's urllib and requests read the usual variables")
	require.Nil(t, RuntimeProxyEnv("", "127.0.0.1", 3128, nil))
}
