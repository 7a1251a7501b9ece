// PostGraphile v5 (amber preset) over the hub's PostgreSQL tables, for `make bench` only.
//
//   node serve.mjs   with BENCH_PG_URL, BENCH_PORT (and BENCH_PG_POOL, default 10) set
//
// One Node process, one pg pool, no GraphiQL, no watch mode, no explain. It prints
// "listening <port>" once it accepts requests; its stdin closing (the benchmark died) stops it.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const connectionString = process.env.BENCH_PG_URL;
const port = Number(process.env.BENCH_PORT);
if (!connectionString || !port) {
  console.error("serve.mjs: set BENCH_PG_URL and BENCH_PORT");
  process.exit(2);
}

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.BENCH_PG_POOL ?? 10) },
    }),
  ],
  grafserv: { port, host: "127.0.0.1", graphiql: false, watch: false, maxRequestLength: 100000 },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (error) => {
  console.error(error);
  process.exit(1);
});
await serv.addTo(server);
await pgl.getSchema(); // build the schema before the first request, not during the warm-up
server.listen(port, "127.0.0.1", () => console.log(`listening ${port}`));

const stop = async () => {
  server.close();
  await pgl.release();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
