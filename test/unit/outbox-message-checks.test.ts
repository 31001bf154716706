import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import { sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  OutboxStatus,
  SagaStatus,
} from "../../src/index.js";
import { type TempDatabase, tempDatabase } from "../adapters/sqlite/temp-database.js";

type Publish = (context: {
  readonly input: { id: string };
  readonly outputs: Readonly<Record<string, unknown>>;
  readonly output: { parcel: string };
}) => unknown;

/** hold (compensatable) then ship (the pivot, which publishes what `publish` returns). */
function shipWorld(publish: Publish) {
  const store = createMemoryStore({ id: "shop", tier: "plain" });
  const log = new MemorySagaLog();
  const saga = defineSaga("ship", { input: z.object({ id: z.string() }) })
    .step("hold", {
      store,
      kind: "compensatable",
      output: z.object({ hold: z.string() }),
      execute: async ({ input, handle }) => {
        await handle.put(`hold:${input.id}`, 1);
        return { hold: `h-${input.id}` };
      },
      probe: async () => notCommitted(),
      compensate: async () => compensated(),
    })
    .step("ship", {
      store,
      kind: "pivot",
      output: z.object({ parcel: z.string() }),
      retry: { attempts: 1 },
      execute: async ({ input, handle }) => {
        await handle.put(`parcel:${input.id}`, { id: input.id });
        return { parcel: `p-${input.id}` };
      },
      probe: async ({ input, handle }) =>
        (await handle.get(`parcel:${input.id}`)) === undefined
          ? notCommitted()
          : committed({ parcel: `p-${input.id}` }),
      publish: publish as never,
    })
    .build();
  return { store, log, saga, runner: createRunner({ log }) };
}

/** Runs the saga with id "s-1" and returns the error the run ends with. */
async function refusal(publish: Publish) {
  const world = shipWorld(publish);
  const result = await world.runner.run(world.saga, { id: "a" }, { sagaId: "s-1" });
  const error = result._unsafeUnwrapErr();
  return { error, world };
}

const PREFIX = 'Saga "s-1" needs attention at step "ship": The output of step "ship"';
const SUFFIX = "; its write may be in place.";

describe("the outbox messages a committed step publishes", () => {
  it("are derived from the step's output and the outputs of the steps committed before it", async () => {
    const seen: unknown[] = [];
    const { log, runner, saga } = shipWorld(({ outputs, output, input }) => {
      seen.push(outputs);
      return [{ topic: "parcels", message: { ...outputs, output, id: input.id } }];
    });
    const report = (await runner.run(saga, { id: "a" }, { sagaId: "s-1" }))._unsafeUnwrap();
    expect(report.status).toBe(SagaStatus.Completed);
    expect(seen).toEqual([{ hold: { hold: "h-a" } }]);
    const messages = await log.outbox.messages({ sagaId: "s-1" });
    expect(messages.map((m) => [m.messageId, m.topic, m.message, m.headers, m.status])).toEqual([
      [
        "s-1:ship:0",
        "parcels",
        { hold: { hold: "h-a" }, output: { parcel: "p-a" }, id: "a" },
        {},
        OutboxStatus.Pending,
      ],
    ]);
  });

  it("record a message without a body as null, and keep its headers", async () => {
    const { log, runner, saga } = shipWorld(() => [
      { topic: "bare" },
      { topic: "tagged", message: 1, headers: { source: "ship", trace: "t-1" } },
    ]);
    expect((await runner.run(saga, { id: "a" }, { sagaId: "s-1" })).isOk()).toBe(true);
    const messages = await log.outbox.messages({ sagaId: "s-1" });
    expect(messages.map((m) => [m.topic, m.message, m.headers])).toEqual([
      ["bare", null, {}],
      ["tagged", 1, { source: "ship", trace: "t-1" }],
    ]);
  });

  it("a publish that throws stops the saga needs_attention, saying so, and records no message", async () => {
    const { error, world } = await refusal(() => {
      throw new Error("the topic map is missing");
    });
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    expect(error.message).toBe(
      `${PREFIX} could not give its outbox messages: publish threw (the topic map is missing)${SUFFIX}`,
    );
    expect(await world.log.outbox.messages()).toEqual([]);
    expect((await world.log.load("s-1"))?.record.status).toBe(SagaStatus.NeedsAttention);
  });

  it("a publish that returns no array is refused, naming what it returned", async () => {
    const { error, world } = await refusal(() => ({ topic: "t", message: 1 }));
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    expect(error.message).toBe(
      `${PREFIX} could not give its outbox messages: publish must return an array, got \`[object Object]\` (object)${SUFFIX}`,
    );
    expect(await world.log.outbox.messages()).toEqual([]);
  });

  const BAD: readonly { name: string; messages: unknown[]; problem: string }[] = [
    {
      name: "a number instead of a message",
      messages: [5],
      problem: "`publish()[0]`: expected { topic, message }, got `5` (number)",
    },
    {
      name: "null instead of a message",
      messages: [null],
      problem: "`publish()[0]`: expected { topic, message }, got `null` (null)",
    },
    {
      name: "an empty topic",
      messages: [{ topic: "", message: 1 }],
      problem: '`publish()[0].topic`: expected a non-empty string, got `""` (string)',
    },
    {
      name: "a topic that is no string",
      messages: [{ topic: 7, message: 1 }],
      problem: "`publish()[0].topic`: expected a non-empty string, got `7` (number)",
    },
    {
      name: "null headers",
      messages: [{ topic: "t", message: 1, headers: null }],
      problem: "`publish()[0].headers`: expected an object of strings, got `null` (null)",
    },
    {
      name: "headers given as an array",
      messages: [{ topic: "t", message: 1, headers: ["x"] }],
      problem: "`publish()[0].headers`: expected an object of strings, got `x` (array)",
    },
    {
      name: "headers given as a string",
      messages: [{ topic: "t", message: 1, headers: "x" }],
      problem: '`publish()[0].headers`: expected an object of strings, got `"x"` (string)',
    },
    {
      name: "a header that is no string",
      messages: [{ topic: "t", message: 1, headers: { source: "ship", retries: 3 } }],
      problem: "`publish()[0].headers.retries`: expected a string, got `3` (number)",
    },
    {
      name: "a bad second message after a good one",
      messages: [
        { topic: "t", message: 1 },
        { topic: "u", message: 2n },
      ],
      problem: "`publish()[1].message`: a BigInt cannot be stored as JSON",
    },
  ];
  for (const bad of BAD) {
    it(`${bad.name} is refused, naming the path, and nothing is recorded`, async () => {
      const { error, world } = await refusal(() => bad.messages);
      expect(error.code).toBe(ErrorCode.NeedsAttention);
      expect(error.message).toBe(
        `${PREFIX} gives an outbox message that cannot be recorded (${bad.problem})${SUFFIX}`,
      );
      expect(await world.log.outbox.messages()).toEqual([]);
    });
  }
});

describe("a publishing step co-committed with an earlier step of its group", () => {
  let temp: TempDatabase | undefined;
  afterEach(() => temp?.remove());

  it("sees the earlier step's output, not committed yet, with those of steps committed before", async () => {
    temp = tempDatabase();
    const store = sqliteStore(temp.db, { id: "orders-db" });
    const log = sqliteSagaLog(temp.db, { store });
    await store.handle.run("CREATE TABLE orders (id TEXT PRIMARY KEY)");
    const memory = createMemoryStore({ id: "funds", tier: "plain" });
    const seen: unknown[] = [];
    const saga = defineSaga("checkout", { input: z.object({ id: z.string() }) })
      .step("hold", {
        store: memory,
        kind: "compensatable",
        output: z.object({ hold: z.string() }),
        execute: async ({ input }) => ({ hold: `h-${input.id}` }),
        probe: async () => notCommitted(),
        compensate: async () => compensated(),
      })
      .step("reserve", {
        store,
        kind: "compensatable",
        output: z.object({ row: z.string() }),
        execute: async ({ input, handle }) => {
          await handle.run("INSERT INTO orders (id) VALUES (?)", [`${input.id}:reserve`]);
          return { row: `${input.id}:reserve` };
        },
        probe: async () => notCommitted(),
        compensate: async () => compensated(),
      })
      .step("place", {
        store,
        kind: "pivot",
        output: z.object({ row: z.string() }),
        execute: async ({ input, handle }) => {
          await handle.run("INSERT INTO orders (id) VALUES (?)", [`${input.id}:place`]);
          return { row: `${input.id}:place` };
        },
        probe: async () => notCommitted(),
        publish: ({ outputs, output }) => {
          seen.push(outputs);
          return [{ topic: "orders.placed", message: { ...outputs, place: output } }];
        },
      })
      .build();
    const report = (
      await createRunner({ log }).run(saga, { id: "o-1" }, { sagaId: "s-1" })
    )._unsafeUnwrap();
    expect(report.steps.map((s) => s.strategy)).toEqual(["saga", "co_committed", "co_committed"]);
    const outputs = { hold: { hold: "h-o-1" }, reserve: { row: "o-1:reserve" } };
    expect(seen).toEqual([outputs]);
    const messages = (await log.outbox?.messages({ sagaId: "s-1" })) ?? [];
    expect(messages.map((m) => [m.messageId, m.topic, m.message])).toEqual([
      ["s-1:place:0", "orders.placed", { ...outputs, place: { row: "o-1:place" } }],
    ]);
  });
});
