// A tiny MCP server (newline-delimited JSON-RPC on stdio, by hand) whose
// fetch tool calls Node's global fetch(url) with no proxy code at all: the
// kind of server drydock's transparent egress exists for. Its env tool
// reports the environment the container really got.
'use strict';
const readline = require('node:readline');

const tools = [
  {name: 'fetch', description: 'GET url with global fetch', inputSchema: {type: 'object', properties: {url: {type: 'string'}}, required: ['url']}},
  {name: 'env', description: 'the process environment', inputSchema: {type: 'object'}},
];

function send(msg) {
  process.stdout.write(JSON.stringify({jsonrpc: '2.0', ...msg}) + '\n');
}

async function call(name, args) {
  switch (name) {
    case 'env':
      return process.env;
    case 'fetch':
      try {
        const r = await fetch(args.url, {signal: AbortSignal.timeout(20000)});
        return {status: r.status, body: await r.text()};
      } catch (e) {
        const c = e.cause || {};
        return {error: `${e}: ${c.code || c.message || ''}`};
      }
  }
  throw new Error(`no tool ${name}`);
}

async function handle(req) {
  switch (req.method) {
    case 'initialize':
      return {protocolVersion: req.params.protocolVersion, capabilities: {tools: {}}, serverInfo: {name: 'node-fetch', version: '1'}};
    case 'ping':
      return {};
    case 'tools/list':
      return {tools};
    case 'tools/call': {
      const out = await call(req.params.name, req.params.arguments || {});
      return {content: [{type: 'text', text: JSON.stringify(out)}]};
    }
  }
  const err = new Error(`method not found: ${req.method}`);
  err.code = -32601;
  throw err;
}

readline.createInterface({input: process.stdin}).on('line', async (line) => {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    return;
  }
  if (req.id === undefined) return; // a notification
  try {
    send({id: req.id, result: await handle(req)});
  } catch (e) {
    send({id: req.id, error: {code: e.code || -32603, message: String(e.message)}});
  }
});
