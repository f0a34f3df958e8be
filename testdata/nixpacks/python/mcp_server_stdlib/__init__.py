"""A stdio MCP server on the Python standard library (drydock test fixture).

It speaks newline-delimited JSON-RPC 2.0 on stdin/stdout, as the MCP stdio
transport does, and logs only to stderr because stdout carries the stream.
Tools: echo (returns its text) and whoami (the process's uid, gid, working
directory and interpreter, so tests can see how it was started)."""

import json
import os
import sys

SERVER_INFO = {"name": "drydock-python-fixture", "version": "0.1.0"}
PROTOCOL_VERSIONS = ("2025-06-18", "2025-03-26", "2024-11-05")

TOOLS = [
    {
        "name": "echo",
        "description": "Return the input text unchanged.",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string", "description": "text to return unchanged"}},
            "required": ["text"],
        },
    },
    {
        "name": "whoami",
        "description": "Report the server process's uid, gid, working directory and interpreter.",
        "inputSchema": {"type": "object", "properties": {}},
    },
]


class RPCError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _initialize(params):
    asked = params.get("protocolVersion")
    version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
    return {"protocolVersion": version, "capabilities": {"tools": {}}, "serverInfo": SERVER_INFO}


def _call(params):
    name = params.get("name")
    args = params.get("arguments") or {}
    if name == "echo":
        text = args.get("text")
        if not isinstance(text, str):
            raise RPCError(-32602, "echo needs a string argument 'text'")
        return {"content": [{"type": "text", "text": text}]}
    if name == "whoami":
        report = {"uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd(), "executable": sys.executable}
        return {"content": [{"type": "text", "text": json.dumps(report, sort_keys=True)}], "structuredContent": report}
    raise RPCError(-32602, f"unknown tool {name!r}")


METHODS = {
    "initialize": _initialize,
    "ping": lambda params: {},
    "tools/list": lambda params: {"tools": TOOLS},
    "tools/call": _call,
}


def handle(message):
    """Returns the response to one JSON-RPC message, or None for notifications."""
    if "id" not in message:
        return None
    reply = {"jsonrpc": "2.0", "id": message["id"]}
    method = METHODS.get(message.get("method"))
    try:
        if method is None:
            raise RPCError(-32601, f"method {message.get('method')!r} not found")
        reply["result"] = method(message.get("params") or {})
    except RPCError as e:
        reply["error"] = {"code": e.code, "message": e.message}
    return reply


def main():
    print("mcp-server-stdlib: serving on stdio", file=sys.stderr, flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            message = json.loads(line)
        except ValueError as e:
            reply = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": f"parse error: {e}"}}
        else:
            reply = handle(message)
        if reply is not None:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
    return 0
