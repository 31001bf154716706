import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConsoleOptions, consoleHandler } from "../../../src/console/console-handler.js";
import { seedConsoleLog } from "./seed-console-log.js";

/** The token the test consoles are started with. */
export const TOKEN = "s3cret-console-token";

/**
 * A console over a freshly seeded SQLite log, listening on a free port of 127.0.0.1: its base URL,
 * the seed, and how to stop it and remove the log.
 */
export async function startSeededConsole(
  options: Partial<ConsoleOptions> & { readonly withoutToken?: boolean } = {},
) {
  const { withoutToken, ...rest } = options;
  const dir = mkdtempSync(join(tmpdir(), "lockstep-console-"));
  const seed = await seedConsoleLog(dir);
  const server = createServer(
    consoleHandler({
      log: seed.log,
      sagas: [seed.world.saga],
      ...(withoutToken === true ? {} : { token: TOKEN }),
      actor: "test-operator",
      ...rest,
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    dir,
    seed,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      seed.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Posts `fields` as an urlencoded form. */
export function postForm(
  url: string,
  fields: Record<string, string | string[]>,
  headers: Record<string, string> = {},
) {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) {
    for (const v of Array.isArray(value) ? value : [value]) body.append(key, v);
  }
  return fetch(url, {
    method: "POST",
    body: body.toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    redirect: "manual",
  });
}
