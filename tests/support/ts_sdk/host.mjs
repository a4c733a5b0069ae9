// An MCP host built on the official TypeScript SDK (v1), as a person's desktop app would use it.
//
// Started by tests/support/ts_sdk.py with Node >= 22. It registers itself (DCR), runs the
// authorization code flow with PKCE, lists the tools, calls one, and calls again after its access
// token stops working (it revokes it, as a gateway would on expiry), so the SDK must refresh.
// Talks JSON lines: it prints {"authorize": url} and reads back {"code": ..., "state": ...} from
// the person the test plays; at the end it prints {"done": {...}} with what it saw.
//
//   TS_SDK_PREFIX  the npm prefix holding node_modules/@modelcontextprotocol/sdk (.node/ts-sdk)
//   MCP_URL        the gateway's MCP endpoint
//   REDIRECT_URI   the host's loopback redirect URI
//   TOOL, ARGS     the tool to call and its arguments (JSON)
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`host.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const dist = path.join(env('TS_SDK_PREFIX'), 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm');
const sdk = (module) => import(pathToFileURL(path.join(dist, module)).href);
const { Client } = await sdk('client/index.js');
const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
const { UnauthorizedError } = await sdk('client/auth.js');

const mcpUrl = new URL(env('MCP_URL'));
const redirectUri = env('REDIRECT_URI');
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (message) => process.stdout.write(JSON.stringify(message) + '\n');
const ask = async (message) => {
  say(message);
  const { value, done } = await lines.next();
  if (done) throw new Error('the test closed stdin');
  return JSON.parse(value);
};

// What a host keeps between runs; here, in memory.
const kept = { client: undefined, tokens: undefined, verifier: undefined };
const seen = { authorizeUrls: [], accessTokens: [], registrations: 0 };
let answer; // the person's answer to the latest authorization URL

const provider = {
  get redirectUrl() {
    return redirectUri;
  },
  get clientMetadata() {
    return {
      client_name: 'A TypeScript SDK host',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  clientInformation: () => kept.client,
  saveClientInformation: (information) => {
    seen.registrations += 1;
    kept.client = information;
  },
  tokens: () => kept.tokens,
  saveTokens: (tokens) => {
    seen.accessTokens.push(tokens.access_token);
    kept.tokens = tokens;
  },
  redirectToAuthorization: (url) => {
    seen.authorizeUrls.push(url.href);
    answer = ask({ authorize: url.href });
  },
  saveCodeVerifier: (verifier) => {
    kept.verifier = verifier;
  },
  codeVerifier: () => kept.verifier,
};

const newTransport = () => new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
const newClient = () => new Client({ name: 'ts-sdk-host', version: '1.0.0' });

async function connect() {
  const first = newTransport();
  try {
    const client = newClient();
    await client.connect(first);
    return client;
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const { code } = await answer;
  await first.finishAuth(code);
  const client = newClient();
  await client.connect(newTransport());
  return client;
}

async function revokeOwnAccessToken() {
  const metadataUrl = new URL('/.well-known/oauth-authorization-server', mcpUrl);
  const metadata = await (await fetch(metadataUrl)).json();
  const response = await fetch(metadata.revocation_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      token: kept.tokens.access_token,
      token_type_hint: 'access_token',
      client_id: kept.client.client_id,
    }),
  });
  if (response.status !== 200) throw new Error(`revocation answered ${response.status}`);
}

try {
  const client = await connect();
  const tools = (await client.listTools()).tools.map((tool) => tool.name);
  const args = JSON.parse(env('ARGS'));
  const first = await client.callTool({ name: env('TOOL'), arguments: args });
  await revokeOwnAccessToken();
  const second = await client.callTool({ name: env('TOOL'), arguments: args });
  await client.close();
  say({
    done: {
      tools,
      first,
      second,
      scope: kept.tokens.scope,
      clientId: kept.client.client_id,
      ...seen,
    },
  });
  process.exit(0);
} catch (error) {
  say({ error: String(error?.stack ?? error) });
  process.exit(1);
}
