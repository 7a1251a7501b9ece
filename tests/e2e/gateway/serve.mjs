#!/usr/bin/env node
// Serves a composed supergraph with Hive Gateway (@graphql-hive/gateway), for the e2e tests.
//
//   node serve.mjs --supergraph SUPERGRAPH.graphql [--host 127.0.0.1] [--port 0]
//
// Port 0 picks a free port. Once listening, prints exactly one line to stdout:
//   listening on http://HOST:PORT/graphql
// Stops cleanly (exit 0) on SIGTERM or SIGINT, or when stdin reaches end of file, so a
// gateway started with a piped stdin never outlives the process that started it.
//
// Offline by construction: no usage reporting, no Hive CDN or GraphOS (the supergraph is a
// local file), no GraphiQL or landing page, and every subgraph fetch must go to a loopback
// address (anything else is refused before it leaves the process).

import { createServer } from "node:http";
import { resolve } from "node:path";
import { argv, exit, stderr, stdin, stdout } from "node:process";
import { parseArgs } from "node:util";

import { createGatewayRuntime } from "@graphql-hive/gateway";

// Client headers passed on to every subgraph (lower case: Fetch API headers are).
export const PROPAGATED_HEADERS = [
  "authorization",
  "x-request-purpose",
  "x-request-user",
  "x-request-case",
];

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

function log(message) {
  stderr.write(`serve.mjs: ${message}\n`);
}

let values;
try {
  ({ values } = parseArgs({
    args: argv.slice(2),
    options: {
      supergraph: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "0" },
      "log-level": { type: "string", default: "warn" },
    },
    strict: true,
  }));
} catch (error) {
  log(error.message);
  exit(2);
}
if (!values.supergraph) {
  log("--supergraph is required");
  exit(2);
}
const port = Number.parseInt(values.port, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  log(`bad --port ${values.port}`);
  exit(2);
}

/** Refuses any subgraph request that would leave the machine. */
const loopbackOnly = {
  onFetch({ url, endResponse }) {
    const { hostname } = new URL(url);
    if (!LOOPBACK_HOSTS.has(hostname)) {
      log(`refused a non-loopback fetch to ${url}`);
      endResponse(
        Response.json(
          { errors: [{ message: `e2e gateway: refused non-loopback fetch to ${hostname}` }] },
          { status: 502 },
        ),
      );
    }
  },
};

const gateway = createGatewayRuntime({
  supergraph: resolve(values.supergraph),
  graphqlEndpoint: "/graphql",
  healthCheckEndpoint: "/healthcheck",
  readinessCheckEndpoint: "/readiness",
  graphiql: false,
  landingPage: false,
  logging: values["log-level"],
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const headers = {};
      for (const name of PROPAGATED_HEADERS) {
        const value = request.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      return headers;
    },
  },
  plugins: () => [loopbackOnly],
});

const server = createServer(gateway);

let stopping = false;
async function stop(reason) {
  if (stopping) return;
  stopping = true;
  log(`stopping (${reason})`);
  const forced = setTimeout(() => {
    log("did not stop within 5 s; exiting");
    exit(1);
  }, 5000);
  forced.unref();
  server.closeAllConnections?.();
  await new Promise((done) => server.close(() => done()));
  await gateway[Symbol.asyncDispose]();
  exit(0);
}

for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => void stop(signal));
stdin.on("end", () => void stop("stdin closed"));
stdin.on("error", () => void stop("stdin error"));
stdin.resume();

server.on("error", (error) => {
  log(`cannot listen: ${error.message}`);
  exit(1);
});
server.listen(port, values.host, () => {
  const address = server.address();
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  stdout.write(`listening on http://${host}:${address.port}/graphql\n`);
});
