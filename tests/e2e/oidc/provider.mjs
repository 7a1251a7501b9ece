#!/usr/bin/env node
// A real OpenID Connect provider (node oidc-provider) for the outside-issuer e2e tests.
//
//   node provider.mjs --config CONFIG.json [--host 127.0.0.1] [--port 0]
//
// CONFIG.json: {"clients": [{client_id, client_secret, roles?, grid?}, …],
//               "keys": [private RSA JWK, …], "cache_control": "max-age=2" (optional),
//               "accounts": {"<login>": {"roles": [...], "grid": "..."}, …} (optional)}
// Each client may use the client credentials grant and gets JWT access tokens (RFC 9068,
// through the resource-indicators feature) for the resource `urn:gridhub`, carrying its
// `roles` and `grid` as claims. The JWKS endpoint sends `cache_control` when given.
// A client entry may instead name its own grant_types, response_types and redirect_uris
// (an OpenID Connect relying party using the authorization code flow).
//
// With `accounts`, people sign in at the provider's own pages (oidc-provider's development
// interactions: a login form taking an account's login with any password, then a consent
// form); the ID token carries `sub` (the login) and, when the scope `roles` is asked for,
// the account's `roles` and `grid` claims.
//
// Once listening, prints exactly one line to stdout: `listening on http://HOST:PORT` (the
// issuer). `POST /_test/keys` with {"keys": [...]} replaces the signing keys, as a provider's
// key rotation would: the provider is rebuilt behind the same port, keeping its clients.
// `POST /_test/clients` with {"clients": [...]} adds clients (e.g. one whose redirect URI
// names a hub started after the provider), rebuilt the same way.
// Stops cleanly on SIGTERM or SIGINT, or when stdin reaches end of file.

import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { argv, exit, stderr, stdin, stdout } from "node:process";
import { parseArgs } from "node:util";

import Provider, { errors } from "oidc-provider";

export const RESOURCE = "urn:gridhub";

function log(message) {
  stderr.write(`provider.mjs: ${message}\n`);
}

const { values } = parseArgs({
  args: argv.slice(2),
  options: {
    config: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
  },
  strict: true,
});
if (!values.config) {
  log("--config is required");
  exit(2);
}
const config = JSON.parse(readFileSync(values.config, "utf8"));

function accountsConfig() {
  const accounts = config.accounts;
  if (!accounts) return {};
  return {
    claims: { openid: ["sub"], roles: ["roles", "grid"] },
    conformIdTokenClaims: false, // the roles and grid claims go in the ID token itself
    async findAccount(_ctx, id) {
      const account = accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, ...account };
        },
      };
    },
  };
}

function build(issuer, keys) {
  const interactive = Boolean(config.accounts);
  const provider = new Provider(issuer, {
    ...accountsConfig(),
    clients: config.clients.map((client) => ({
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: "client_secret_basic",
      ...client,
    })),
    extraClientMetadata: { properties: ["roles", "grid"] },
    jwks: { keys },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: interactive },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resource) {
          if (resource !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: "gridhub",
            audience: RESOURCE,
            accessTokenFormat: "jwt",
            accessTokenTTL: 600,
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
    async extraTokenClaims(ctx) {
      const client = ctx.oidc.client;
      const claims = {};
      if (client?.roles) claims.roles = client.roles;
      if (client?.grid) claims.grid = client.grid;
      return claims;
    },
  });
  provider.proxy = false;
  if (config.cache_control) {
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.path === "/jwks") ctx.set("Cache-Control", config.cache_control);
    });
  }
  return provider.callback();
}

let handle = null;
let issuer = null;

function readBody(request) {
  return new Promise((done, fail) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => done(Buffer.concat(chunks).toString("utf8")));
    request.on("error", fail);
  });
}

const server = createServer(async (request, response) => {
  if (request.method === "POST" && request.url === "/_test/keys") {
    const { keys } = JSON.parse(await readBody(request));
    config.keys = keys;
    handle = build(issuer, keys);
    log(`signing keys replaced: ${keys.map((key) => key.kid).join(", ")}`);
    response.writeHead(204).end();
    return;
  }
  if (request.method === "POST" && request.url === "/_test/clients") {
    const { clients } = JSON.parse(await readBody(request));
    config.clients = [...config.clients, ...clients];
    handle = build(issuer, config.keys);
    log(`clients added: ${clients.map((client) => client.client_id).join(", ")}`);
    response.writeHead(204).end();
    return;
  }
  handle(request, response);
});

server.listen(Number.parseInt(values.port, 10), values.host, () => {
  const { port } = server.address();
  issuer = `http://${values.host}:${port}`;
  handle = build(issuer, config.keys);
  stdout.write(`listening on ${issuer}\n`);
});

function stop() {
  server.close(() => exit(0));
  server.closeAllConnections();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
stdin.on("end", stop);
stdin.resume();
