import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import type { MemoryStore } from "../../src/adapters/memory/index.js";
import { openSqlite, sqliteSagaLog } from "../../src/adapters/sqlite/index.js";
import {
  committed,
  compensated,
  defineSaga,
  MemorySagaLog,
  notCommitted,
  type SagaLog,
  StoreError,
} from "../../src/index.js";

/** How the `capture` step of {@link paySaga} behaves. */
export interface PayOptions {
  /**
   * What capture returns, and what its probe finds once its write is in place.
   * @default `{ amount: 10 }`
   */
  readonly output?: () => unknown;
  /** capture's write lands, but the call throws: only its probe can say what it wrote. */
  readonly lost?: boolean;
  /** capture is refused before it writes anything, so hold is compensated. */
  readonly refused?: boolean;
  /** hold's compensation always throws a transient error with this message. */
  readonly holdStuck?: string;
}

/** hold (compensatable) then capture (pivot, one attempt), both on `store`. */
export function paySaga(store: MemoryStore, options: PayOptions = {}) {
  const output = options.output ?? (() => ({ amount: 10 }));
  return defineSaga("pay", { input: z.object({ id: z.string() }) })
    .step("hold", {
      store,
      kind: "compensatable",
      output: z.object({ version: z.number() }),
      execute: async ({ input, handle }) => {
        const put = await handle.put(`hold:${input.id}`, { held: true }, "absent");
        return { version: put.version ?? 0 };
      },
      probe: async ({ input, handle }) => {
        const doc = await handle.get(`hold:${input.id}`);
        return doc === undefined ? notCommitted() : committed({ version: doc.version });
      },
      compensate: async ({ input, handle }) => {
        if (options.holdStuck) throw new StoreError("transient", options.holdStuck);
        await handle.delete(`hold:${input.id}`);
        return compensated();
      },
    })
    .step("capture", {
      store,
      kind: "pivot",
      output: z.object({ amount: z.unknown() }),
      retry: { attempts: 1 },
      execute: async ({ input, handle }) => {
        if (options.refused) throw new StoreError("not_committed", "the card was declined");
        await handle.put(`capture:${input.id}`, { captured: true }, "absent");
        if (options.lost) throw new Error("the response was lost");
        return output() as { amount: unknown };
      },
      probe: async ({ input, handle }) => {
        const doc = await handle.get(`capture:${input.id}`);
        return doc === undefined ? notCommitted() : committed(output() as { amount: unknown });
      },
    })
    .build();
}

const opened: (() => void)[] = [];

/** The saga logs a test runs on: the memory log, and SQLite on a file of its own. */
export const LOGS: readonly { readonly name: string; readonly open: () => SagaLog }[] = [
  { name: "the memory log", open: () => new MemorySagaLog() },
  {
    name: "SQLite (a file)",
    open: () => {
      const dir = mkdtempSync(join(tmpdir(), "lockstep-pay-"));
      const db = openSqlite(join(dir, "log.db"));
      opened.push(() => {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      });
      return sqliteSagaLog(db);
    },
  },
];

/** Closes every SQLite log {@link LOGS} opened and removes its file; call it after each test. */
export function closeLogs(): void {
  for (const close of opened.splice(0)) close();
}
