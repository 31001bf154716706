import { createServer, type Server } from "node:http";
import { consoleHandler } from "../../console/console-handler.js";
import { CliFailure, UsageError } from "../cli-error.js";
import type { Command } from "../command.js";
import { ExitCode } from "../exit-code.js";

const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** The environment variable the token may come from instead of `--token` (which `ps` shows). */
export const TOKEN_ENV = "LOCKSTEP_CONSOLE_TOKEN";

/** `lockstep console`: the operator's web console over a saga log, until stopped. */
export const consoleCommand: Command = {
  name: "console",
  summary: "Serve a web console over the saga log: sagas, timelines, the needs_attention queue.",
  synopsis:
    "console --log <url> [--config <module>] [--port <n>] [--host <address>] [--token <secret>] [--actor <name>]",
  description: `Serves server-rendered pages (no build step, nothing from a CDN) on http://<host>:<port> until SIGTERM or SIGINT: the sagas list (filter by name, status, attention reason and time, newest first, paged), one saga with its timeline drawing and, on demand, its diagnosis (probes need --config), the needs_attention queue grouped by reason with the way out for each, the recovery workers that report their status to the log (a silent one marked stale), and the operator events the log records. It binds 127.0.0.1 unless --host says otherwise. Pages only read. Actions — run recovery for one saga, mark a needs_attention saga for retry, prune finished sagas — are off unless a token is given with --token or the ${TOKEN_ENV} environment variable; each asks for confirmation and must be posted with the token, and is recorded in the log: the saga actions as operator entries on the saga, a prune as an operator event (a prune leaves sagas whose lease a runner holds).`,
  options: {
    port: {
      type: "string",
      value: "<n>",
      description: "The port to listen on (default 4680; 0 picks a free one).",
    },
    host: {
      type: "string",
      value: "<address>",
      description: "The address to bind (default 127.0.0.1).",
    },
    token: {
      type: "string",
      value: "<secret>",
      description: `Turns actions on; they must be posted with it. Prefer the ${TOKEN_ENV} environment variable.`,
    },
    actor: {
      type: "string",
      value: "<name>",
      description:
        "Who acts, recorded with every action unless its form names someone (default console).",
    },
  },
  positionals: { min: 0, max: 0, names: "" },
  async run(session) {
    const port = session.integer("port", 0, 4680);
    if (port > 65_535) {
      throw new UsageError(
        `Expected --port to be an integer from 0 to 65535, got "${port}".`,
        "console",
      );
    }
    const host = session.string("host") ?? "127.0.0.1";
    const token = session.string("token") ?? process.env[TOKEN_ENV];
    if (token !== undefined && token.length < 8) {
      throw new UsageError(
        "Expected the console token to be at least 8 characters long.",
        "console",
      );
    }
    const config = await session.config();
    const log = await session.log();
    const handler = consoleHandler({
      log,
      ...(config === undefined ? {} : { sagas: config.sagas }),
      ...(token === undefined ? {} : { token }),
      actor: session.string("actor") ?? "console",
    });
    const server = createServer(handler);
    const address = await listen(server, port, host);
    const out = (text: string) => session.output.out(text);
    if (!LOOPBACK.has(host)) {
      session.output.err(
        `lockstep: the console is bound to ${host}, reachable from other machines; pages show saga inputs as they are logged.`,
      );
    }
    out(
      `lockstep console on http://${address} — actions ${token === undefined ? "off (no token)" : "on (token required)"}. Stop with SIGTERM or SIGINT.`,
    );
    await new Promise<void>((resolve) => {
      const stop = () => {
        for (const signal of STOP_SIGNALS) process.off(signal, stop);
        resolve();
      };
      for (const signal of STOP_SIGNALS) process.on(signal, stop);
    });
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    out("Console stopped.");
    return ExitCode.Ok;
  },
};

/** Listens on `host:port`; a port in use or an address that cannot be bound is a clear failure. */
function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new CliFailure(
          error.code === "EADDRINUSE"
            ? `Port ${port} on ${host} is in use; pick another with --port.`
            : `The console could not listen on ${host}:${port}: ${error.message}`,
          { cause: error },
        ),
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      const bound = server.address();
      const shown = typeof bound === "object" && bound !== null ? bound.port : port;
      resolve(`${host.includes(":") ? `[${host}]` : host}:${shown}`);
    });
  });
}
