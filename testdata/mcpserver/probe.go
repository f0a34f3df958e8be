package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const dialTimeout = 2 * time.Second

// ProbeArgs is the input of the probe tool.
type ProbeArgs struct {
	Connect string `json:"connect,omitempty" jsonschema:"optional host:port to dial over TCP"`
	// WriteDir and Getenv let launch tests observe --mount and --env.
	WriteDir string   `json:"writeDir,omitempty" jsonschema:"optional directory to try writing a file in"`
	ReadFile string   `json:"readFile,omitempty" jsonschema:"optional file to read (first 4 KiB)"`
	Getenv   []string `json:"getenv,omitempty" jsonschema:"optional environment variable names to report"`
	HTTPGet  string   `json:"httpGet,omitempty" jsonschema:"optional URL to GET (honours HTTP_PROXY/HTTPS_PROXY)"`
	// NoProxy makes httpGet ignore the proxy variables (a proxy-unaware
	// client, reaching its host through DNS and the transparent gateway)
	// and accept any certificate (the tests' listeners are self-signed).
	NoProxy bool `json:"noProxy,omitempty" jsonschema:"optional: GET directly, ignoring HTTP(S)_PROXY, accepting any certificate"`
	// ReadLine dials connect and reads one line (a TCP service's greeting).
	ReadLine bool `json:"readLine,omitempty" jsonschema:"optional: after connecting, read one line"`
	// Resolve and DNSServer let launch tests check that no DNS answer
	// reaches a sandbox: through its resolv.conf, or from a server it names.
	Resolve   string `json:"resolve,omitempty" jsonschema:"optional host name to look up"`
	DNSServer string `json:"dnsServer,omitempty" jsonschema:"optional host:port of a DNS server to ask over UDP instead of resolv.conf's"`
}

// ProbeResult is what the probe tool observed. Errors are reported as strings
// so the probe never fails: a denied write is the expected answer in a sandbox.
type ProbeResult struct {
	RootWritable   bool              `json:"rootWritable"`
	RootWriteError string            `json:"rootWriteError"`
	TmpWritable    bool              `json:"tmpWritable"`
	TmpWriteError  string            `json:"tmpWriteError"`
	Connect        *ConnectResult    `json:"connect,omitempty"`
	UID            int               `json:"uid"`
	GID            int               `json:"gid"`
	EUID           int               `json:"euid"`
	CapEff         string            `json:"capEff"`
	NoNewPrivs     bool              `json:"noNewPrivs"`
	Hostname       string            `json:"hostname"`
	DirWritable    bool              `json:"dirWritable,omitempty"`
	DirWriteError  string            `json:"dirWriteError,omitempty"`
	File           string            `json:"file,omitempty"`
	FileError      string            `json:"fileError,omitempty"`
	Env            map[string]string `json:"env,omitempty"`
	HTTP           *HTTPResult       `json:"http,omitempty"`
	Resolve        *ResolveResult    `json:"resolve,omitempty"`
}

// ResolveResult is the outcome of one name lookup.
type ResolveResult struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
	Error string   `json:"error"`
}

// HTTPResult is the outcome of one GET.
type HTTPResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
	Error  string `json:"error"`
}

// ConnectResult is the outcome of one TCP dial.
type ConnectResult struct {
	Addr  string `json:"addr"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Line  string `json:"line,omitempty"`
}

func probe(ctx context.Context, in ProbeArgs) ProbeResult {
	var r ProbeResult
	r.RootWritable, r.RootWriteError = tryWrite("/")
	r.TmpWritable, r.TmpWriteError = tryWrite("/tmp")
	if in.Connect != "" {
		r.Connect = dial(ctx, in.Connect, in.ReadLine)
	}
	r.UID, r.GID, r.EUID = os.Getuid(), os.Getgid(), os.Geteuid()
	status := procStatus()
	r.CapEff = status["CapEff"]
	r.NoNewPrivs = status["NoNewPrivs"] == "1"
	r.Hostname, _ = os.Hostname()
	if in.WriteDir != "" {
		r.DirWritable, r.DirWriteError = tryWrite(in.WriteDir)
	}
	if in.ReadFile != "" {
		r.File, r.FileError = readHead(in.ReadFile)
	}
	if len(in.Getenv) > 0 {
		r.Env = map[string]string{}
		for _, n := range in.Getenv {
			if v, ok := os.LookupEnv(n); ok {
				r.Env[n] = v
			}
		}
	}
	if in.HTTPGet != "" {
		r.HTTP = httpGet(ctx, in.HTTPGet, in.NoProxy)
	}
	if in.Resolve != "" {
		r.Resolve = resolve(ctx, in.Resolve, in.DNSServer)
	}
	return r
}

// tryWrite creates and removes a uniquely named file in dir.
func tryWrite(dir string) (bool, string) {
	name := filepath.Join(dir, fmt.Sprintf(".drydock-probe-%d-%d", os.Getpid(), time.Now().UnixNano()))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false, err.Error()
	}
	_, werr := f.WriteString("probe\n")
	cerr := f.Close()
	rerr := os.Remove(name)
	for _, err := range []error{werr, cerr, rerr} {
		if err != nil {
			return false, err.Error()
		}
	}
	return true, ""
}

func dial(ctx context.Context, addr string, readLine bool) *ConnectResult {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &ConnectResult{Addr: addr, Error: err.Error()}
	}
	defer conn.Close()
	if !readLine {
		return &ConnectResult{Addr: addr, OK: true}
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * dialTimeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return &ConnectResult{Addr: addr, Error: "reading: " + err.Error()}
	}
	return &ConnectResult{Addr: addr, OK: true, Line: line}
}

// procStatus reads /proc/self/status into key/value pairs; missing keys
// (e.g. not on Linux) read as empty strings.
func procStatus() map[string]string {
	out := map[string]string{}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func readHead(name string) (string, string) {
	f, err := os.Open(name)
	if err != nil {
		return "", err.Error()
	}
	defer f.Close()
	b := make([]byte, 4096)
	n, err := f.Read(b)
	if err != nil && n == 0 {
		return "", err.Error()
	}
	return string(b[:n]), ""
}

// httpGet uses the default transport, which reads HTTP_PROXY and
// HTTPS_PROXY: the way most servers reach the network through a proxy.
func httpGet(ctx context.Context, url string, noProxy bool) *HTTPResult {
	ctx, cancel := context.WithTimeout(ctx, 2*dialTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &HTTPResult{Error: err.Error()}
	}
	c := http.DefaultClient
	if noProxy {
		c = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	resp, err := c.Do(req)
	if err != nil {
		return &HTTPResult{Error: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return &HTTPResult{Status: resp.StatusCode, Body: string(b)}
}

// resolve looks name up with Go's own resolver: through resolv.conf, or by
// asking server (host:port) over UDP when it is set.
func resolve(ctx context.Context, name, server string) *ResolveResult {
	ctx, cancel := context.WithTimeout(ctx, 2*dialTimeout)
	defer cancel()
	r := &net.Resolver{PreferGo: true}
	if server != "" {
		r.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: dialTimeout}
			return d.DialContext(ctx, "udp", server)
		}
	}
	addrs, err := r.LookupHost(ctx, name)
	if err != nil {
		return &ResolveResult{Name: name, Error: err.Error()}
	}
	return &ResolveResult{Name: name, Addrs: addrs}
}
