"""A tiny MCP server (newline-delimited JSON-RPC on stdio, by hand) whose
fetch tool uses urllib.request: urlopen (which follows the proxy variables)
or, with noProxy, an opener without proxies (which then relies on drydock's
transparent egress). Its env tool reports the container's environment."""
import json
import os
import sys
import urllib.error
import urllib.request

TOOLS = [
    {"name": "fetch", "description": "GET url with urllib.request",
     "inputSchema": {"type": "object", "properties": {"url": {"type": "string"}, "noProxy": {"type": "boolean"}}, "required": ["url"]}},
    {"name": "env", "description": "the process environment", "inputSchema": {"type": "object"}},
]


def fetch(url, no_proxy):
    try:
        if no_proxy:
            r = urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=20)
        else:
            r = urllib.request.urlopen(url, timeout=20)
        with r:
            return {"status": r.status, "body": r.read().decode()}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read().decode(errors="replace")}
    except Exception as e:  # the test reads what failed
        return {"error": f"{type(e).__name__}: {e}"}


def call(name, args):
    if name == "env":
        return dict(os.environ)
    if name == "fetch":
        return fetch(args["url"], args.get("noProxy", False))
    raise LookupError(f"no tool {name}")


def handle(req):
    m = req["method"]
    if m == "initialize":
        return {"protocolVersion": req["params"]["protocolVersion"], "capabilities": {"tools": {}},
                "serverInfo": {"name": "python-urllib", "version": "1"}}
    if m == "ping":
        return {}
    if m == "tools/list":
        return {"tools": TOOLS}
    if m == "tools/call":
        out = call(req["params"]["name"], req["params"].get("arguments") or {})
        return {"content": [{"type": "text", "text": json.dumps(out)}]}
    raise NotImplementedError(f"method not found: {m}")


def main():
    for line in sys.stdin:
        try:
            req = json.loads(line)
        except ValueError:
            continue
        if "id" not in req:
            continue  # a notification
        try:
            msg = {"jsonrpc": "2.0", "id": req["id"], "result": handle(req)}
        except NotImplementedError as e:
            msg = {"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32601, "message": str(e)}}
        except Exception as e:
            msg = {"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32603, "message": str(e)}}
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()


main()
