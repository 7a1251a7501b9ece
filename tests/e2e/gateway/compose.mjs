#!/usr/bin/env node
// Composes a federation v2 supergraph from subgraph SDL files with @apollo/composition.
//
//   node compose.mjs --out SUPERGRAPH.graphql --subgraph NAME URL SDL_PATH [--subgraph ...]
//   node compose.mjs --out SUPERGRAPH.graphql --manifest MANIFEST.json
//
// MANIFEST.json is a list of {"name": ..., "url": ..., "sdl": "path/to/name.graphql"};
// relative SDL paths are resolved against the manifest's directory. Composition errors and
// hints go to stderr; on failure the script exits 1 and writes nothing. Exit 2: bad usage.

import { readFileSync, writeFileSync, renameSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { argv, exit, stderr, stdout } from "node:process";

import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const USAGE =
  "usage: compose.mjs --out FILE (--subgraph NAME URL SDL_PATH)... | --manifest FILE [--quiet]";

function usage(message) {
  stderr.write(`compose.mjs: ${message}\n${USAGE}\n`);
  exit(2);
}

function parseArguments(args) {
  const options = { out: undefined, subgraphs: [], quiet: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--out") {
      options.out = args[++i] ?? usage("--out needs a path");
    } else if (arg === "--subgraph") {
      const [name, url, path] = args.slice(i + 1, i + 4);
      if (path === undefined) usage("--subgraph needs NAME URL SDL_PATH");
      options.subgraphs.push({ name, url, sdl: resolve(path) });
      i += 3;
    } else if (arg === "--manifest") {
      const manifest = args[++i] ?? usage("--manifest needs a path");
      const base = dirname(resolve(manifest));
      const entries = JSON.parse(readFileSync(manifest, "utf8"));
      if (!Array.isArray(entries)) usage(`${manifest}: expected a JSON list`);
      for (const { name, url, sdl } of entries) {
        if (!name || !url || !sdl) usage(`${manifest}: each entry needs name, url and sdl`);
        options.subgraphs.push({ name, url, sdl: resolve(base, sdl) });
      }
    } else if (arg === "--quiet") {
      options.quiet = true;
    } else if (arg === "--help" || arg === "-h") {
      stdout.write(`${USAGE}\n`);
      exit(0);
    } else {
      usage(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (!options.out) usage("--out is required");
  if (options.subgraphs.length === 0) usage("no subgraphs given");
  return options;
}

function describe(error) {
  const code = error.extensions?.code ?? error.code;
  return code ? `[${code}] ${error.message}` : error.message;
}

const options = parseArguments(argv.slice(2));

const services = [];
for (const { name, url, sdl } of options.subgraphs) {
  let source;
  try {
    source = readFileSync(sdl, "utf8");
  } catch (error) {
    stderr.write(`compose.mjs: cannot read the ${name} SDL: ${error.message}\n`);
    exit(1);
  }
  try {
    services.push({ name, url, typeDefs: parse(source, { noLocation: false }) });
  } catch (error) {
    stderr.write(`compose.mjs: ${sdl}: ${error.message}\n`);
    exit(1);
  }
}

const result = composeServices(services);

if (result.errors && result.errors.length > 0) {
  stderr.write(`compose.mjs: composition failed with ${result.errors.length} error(s):\n`);
  for (const error of result.errors) stderr.write(`  - ${describe(error)}\n`);
  exit(1);
}

if (!options.quiet) {
  for (const hint of result.hints ?? []) {
    stderr.write(`compose.mjs: hint [${hint.definition?.code ?? "HINT"}] ${hint.message}\n`);
  }
}

// Write atomically so a reader never sees half a supergraph.
const target = resolve(options.out);
const partial = `${target}.partial`;
writeFileSync(partial, result.supergraphSdl.endsWith("\n") ? result.supergraphSdl : `${result.supergraphSdl}\n`);
renameSync(partial, target);
if (!options.quiet) {
  stderr.write(
    `compose.mjs: composed ${services.map((s) => s.name).join(", ")} into ${target}\n`,
  );
}
