/*
 * A buyer's webhook receiver made with the reference buyer library,
 * @adcp/client (its SingleAgentClient.createWebhookHandler(): HMAC-SHA256
 * over "<X-ADCP-Timestamp>.<raw body>", timestamp freshness, MCP and A2A
 * payloads normalized), served over https.
 *
 *   node receiver.js <port> <cert.pem> <key.pem> <secret> <log file>
 *
 * Every request is appended to the log as one JSON line: the status the
 * library's handler answered, its body, and what it passed to onActivity.
 * "listening" on stdout once the port is open.
 */

'use strict';

const https = require('https');
const fs = require('fs');
const { SingleAgentClient } = require('@adcp/client');

const [port, cert, key, secret, logFile] = process.argv.slice(2);

let activity = null;

const client = new SingleAgentClient(
    { id: 'gw', name: 'gateway', agent_uri: 'https://127.0.0.1/mcp',
      protocol: 'mcp' },
    { webhookSecret: secret,
      onActivity: async (a) => { activity = a; } });

const handler = client.createWebhookHandler();

const server = https.createServer({
    cert: fs.readFileSync(cert),
    key: fs.readFileSync(key),
}, (req, res) => {
    const chunks = [];

    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
        const m = req.url.match(/^\/webhook\/([^/?]+)\/([^/?]+)/);
        const out = { status: 0, body: '' };
        const shim = {
            writeHead: (s) => { out.status = s; },
            end: (b) => { out.body = String(b); },
        };

        req.body = Buffer.concat(chunks).toString('utf8');
        req.params = m ? { task_type: m[1], operation_id: m[2] } : {};
        activity = null;

        await handler(req, shim);

        fs.appendFileSync(logFile, JSON.stringify({
            url: req.url, headers: req.headers, raw: req.body,
            status: out.status, answer: out.body, activity: activity,
        }) + '\n');

        res.writeHead(out.status, { 'Content-Type': 'application/json' });
        res.end(out.body);
    });
});

server.listen({ port: Number(port), host: '127.0.0.1', backlog: 511 }, () => {
    console.log('listening');
});
