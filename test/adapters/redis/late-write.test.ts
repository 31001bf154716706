import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore, type MemoryStore } from "../../../src/adapters/memory/index.js";
import {
  type RedisStore,
  redisDel,
  redisSet,
  redisStore,
} from "../../../src/adapters/redis/index.js";
import {
  classifyError,
  committed,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  notCommitted,
  type SagaEvent,
  SagaStatus,
  StepKind,
} from "../../../src/index.js";
import { connectTestRedis, type RedisTestClient } from "./redis-test-client.js";

/** What the abandoned first attempt's write came to, once the test let it go. */
type LateOutcome = { readonly ok: true } | { readonly ok: false; readonly error: unknown };

interface World {
  readonly credits: MemoryStore;
  readonly bounties: RedisStore;
  readonly bounty: string;
  /** Opens the gate the first attempt's execute waits behind before it writes. */
  open(): void;
  /** Settles with what the first attempt's write came to. */
  readonly late: Promise<LateOutcome>;
  readonly compensations: string[];
}

/**
 * reserve credits (memory) → write the bounty document (Redis, probed by the step's key) → activate
 * (memory, the pivot). The bounty step's first attempt stalls behind a gate past its timeout, then
 * writes through the very handle it was given: a request of an attempt the runner gave up on,
 * arriving late. The write is unguarded, so nothing but the fence stops it.
 */
function bountySaga(world: World, attempts: number, settle: (outcome: LateOutcome) => void) {
  const gate = new Promise<void>((resolve) => {
    (world as { open: () => void }).open = resolve;
  });
  return defineSaga("late-redis-bounty", { input: z.object({ amount: z.number() }) })
    .step("reserve", {
      store: world.credits,
      kind: StepKind.Compensatable,
      output: z.object({ reservation: z.string() }),
      execute: async ({ input, handle }) => {
        await handle.put("res", { amount: input.amount });
        return { reservation: "res" };
      },
      probe: async ({ handle }) =>
        (await handle.get("res")) ? committed({ reservation: "res" }) : notCommitted(),
      compensate: async ({ handle, output }) => {
        world.compensations.push("reserve");
        await handle.delete(output.reservation);
        return compensated();
      },
    })
    .step("createBounty", {
      store: world.bounties,
      kind: StepKind.Compensatable,
      output: z.object({ version: z.number() }),
      retry: { attempts, initialDelayMs: 1 },
      timeoutMs: 200,
      execute: async ({ handle, key, attempt }) => {
        const write = () => handle.apply(redisSet(world.bounty, { createdBy: key, attempt }));
        if (attempt > 1) return { version: (await write()).version ?? 0 };
        await gate;
        try {
          const { version } = await write();
          settle({ ok: true });
          return { version: version ?? 0 };
        } catch (error) {
          settle({ ok: false, error });
          throw error;
        }
      },
      probe: async ({ handle, key }) => {
        const doc = await handle.get(world.bounty);
        return doc?.type === "json" && (doc.value as { createdBy?: string }).createdBy === key
          ? committed({ version: doc.version })
          : notCommitted();
      },
      compensate: async ({ handle, output }) => {
        world.compensations.push("createBounty");
        await handle.apply(redisDel(world.bounty, { ifVersion: output.version }));
        return compensated();
      },
    })
    .step("activate", {
      store: world.credits,
      kind: StepKind.Pivot,
      output: z.object({ active: z.literal(true) }),
      retry: { attempts: 1 },
      execute: async ({ handle }) => {
        await handle.put("active", true);
        return { active: true as const };
      },
      probe: async ({ handle }) =>
        (await handle.get("active")) ? committed({ active: true as const }) : notCommitted(),
    })
    .build();
}

describe("a Redis write of a step attempt the runner gave up on, arriving after the saga moved on (a live runner, no takeover)", () => {
  let redis: RedisTestClient;
  let world: World;
  let events: SagaEvent[];
  let settle: (outcome: LateOutcome) => void;

  beforeEach(async () => {
    redis = await connectTestRedis();
    let resolveLate: (outcome: LateOutcome) => void = () => {};
    const late = new Promise<LateOutcome>((resolve) => {
      resolveLate = resolve;
    });
    settle = resolveLate;
    world = {
      credits: createMemoryStore({ tier: "plain", id: "memory:credits" }),
      bounties: redisStore(redis.client, { fenceKeyPrefix: redis.key("fence:") }),
      bounty: redis.key("bounty"),
      open: () => {},
      late,
      compensations: [],
    };
    events = [];
  });
  afterEach(async () => {
    world.open();
    await world.bounties.close();
    await redis.cleanup();
  });

  const run = (attempts: number) =>
    createRunner({ onEvent: (event) => events.push(event) }).run(
      bountySaga(world, attempts, settle),
      { amount: 25 },
    );
  const probes = () =>
    events.flatMap((e) =>
      e.type === "step.probed" && e.step === "createBounty" ? [e.result] : [],
    );
  const expectFenced = async () => {
    const outcome = await world.late;
    expect(outcome.ok, "the late write must be refused").toBe(false);
    if (outcome.ok) return;
    expect(classifyError(outcome.error)).toBe("not_committed");
    expect(String(outcome.error)).toContain("fencing token");
  };

  it("is refused when it arrives after the probe found nothing and the saga was compensated", async () => {
    const result = await run(1);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    if (error.code !== ErrorCode.StepFailed) return;
    expect(error.report.status).toBe(SagaStatus.Compensated);
    expect(error.report.steps.map((s) => s.status)).toEqual([
      "compensated",
      "not_committed",
      "skipped",
    ]);
    expect(probes(), "the probe ran while the write was still to come").toEqual(["not_committed"]);
    expect(world.compensations).toEqual(["reserve"]);

    world.open();
    await expectFenced();
    expect(await world.bounties.handle.get(world.bounty), "no effect of the late write").toBe(
      undefined,
    );
    expect(world.credits.snapshot().res).toBeUndefined();
  });

  it("is refused when it arrives after a retry committed: the document stays the one the saga reports", async () => {
    const result = await run(2);
    expect(result.isOk(), JSON.stringify(result)).toBe(true);
    const report = result._unsafeUnwrap();
    expect(report.status).toBe(SagaStatus.Completed);
    expect(report.steps.find((s) => s.name === "createBounty")?.attempts).toBe(2);
    expect(probes()).toEqual(["not_committed"]);
    const landed = await world.bounties.handle.get(world.bounty);
    expect(landed?.value).toMatchObject({ attempt: 2 });
    expect(report.outputs.createBounty.version).toBe(landed?.version);

    world.open();
    await expectFenced();
    expect(
      await world.bounties.handle.get(world.bounty),
      "the store holds exactly what the saga says",
    ).toEqual(landed);
    expect(world.compensations).toEqual([]);
  });
});
