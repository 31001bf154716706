import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  committed,
  createRunner,
  defineSaga,
  MemorySagaLog,
  notCommitted,
  type SagaLog,
} from "../../src/index.js";

/** A log that records, in order, the entry types each durable call carried. */
function recordingLog(): { log: SagaLog; writes: string[][] } {
  const inner = new MemorySagaLog();
  const writes: string[][] = [];
  const log = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === "create") {
        return (record: never, entries: { step: string; type: string }[] = []) => {
          writes.push(entries.map((e) => `${e.step}:${e.type}`));
          return target.create(record, entries as never);
        };
      }
      if (property === "write") {
        return (
          sagaId: string,
          token: number,
          change: { entries?: { step: string; type: string }[] },
        ) => {
          writes.push((change.entries ?? []).map((e) => `${e.step}:${e.type}`));
          return target.write(sagaId, token, change as never);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as SagaLog;
  return { log, writes };
}

/** charge (the pivot, probed) then notify (retriable), shaped by `notify`. */
function saga(notify: { probe: boolean; idempotent: boolean }) {
  const store = createMemoryStore({ id: "memory:shop", tier: "plain" });
  const probeOf =
    (prefix: string) =>
    async ({ key, handle }: { key: string; handle: typeof store.handle }) =>
      (await handle.get(`${prefix}:${key}`)) ? committed({ id: key }) : notCommitted();
  return defineSaga("shop", { input: z.object({}) })
    .step("charge", {
      store,
      kind: "pivot",
      output: z.object({ id: z.string() }),
      execute: async ({ key, handle }) => {
        await handle.put(`charge:${key}`, true);
        return { id: key };
      },
      probe: probeOf("charge"),
    })
    .step("notify", {
      store,
      kind: "retriable",
      idempotent: notify.idempotent,
      output: z.object({ id: z.string() }),
      execute: async ({ key, handle }) => {
        await handle.put(`notify:${key}`, true);
        return { id: key };
      },
      ...(notify.probe ? { probe: probeOf("notify") } : {}),
    })
    .build();
}

describe("the write-ahead intent of a retriable step", () => {
  const cases = [
    { notify: { probe: true, idempotent: false }, own: true },
    { notify: { probe: true, idempotent: true }, own: false },
    { notify: { probe: false, idempotent: false }, own: false },
    { notify: { probe: false, idempotent: true }, own: false },
  ];
  let ran = 0;
  afterAll(() => expect(ran, "every case ran").toBe(cases.length));

  it.each(cases)(
    "with $notify: written on its own before execute: $own",
    async ({ notify, own }) => {
      ran++;
      const { log, writes } = recordingLog();
      const report = (await createRunner({ log }).run(saga(notify), {}))._unsafeUnwrap();
      expect(report.status).toBe("completed");
      // A step recovery settles by its probe needs its intent durable first; one it settles by
      // running it again with its key does not, so its intent rides with its outcome.
      expect(writes).toEqual(
        own
          ? [["charge:intent"], ["charge:committed", "notify:intent"], ["notify:committed"]]
          : [["charge:intent"], ["charge:committed", "notify:intent", "notify:committed"]],
      );
    },
  );
});
