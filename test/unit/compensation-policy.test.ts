import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  type CompensationPolicy,
  committed,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  explain,
  LockstepDefinitionError,
  notCommitted,
  type RetryPolicy,
  SagaStatus,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

interface Seen {
  /** The virtual time of each compensation call. */
  readonly calls: number[];
  /** Each compensation call's deadline, relative to its start. */
  readonly deadlines: number[];
  /** Each execute call's deadline of the reserve step, relative to its start. */
  readonly executeDeadlines: number[];
}

/**
 * reserve (compensatable) then charge (pivot, always refused): reserve's compensation fails
 * `failures` times, then succeeds.
 */
function reserveSaga(
  clock: VirtualClock,
  failures: number,
  options: { retry?: Partial<RetryPolicy>; compensation?: CompensationPolicy } = {},
) {
  const store = createMemoryStore({ id: "funds", tier: "plain" });
  const seen: Seen = { calls: [], deadlines: [], executeDeadlines: [] };
  const saga = defineSaga("reserve-then-charge", { input: z.object({}) })
    .step("reserve", {
      store,
      kind: "compensatable",
      output: z.object({ ok: z.boolean() }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.compensation === undefined ? {} : { compensation: options.compensation }),
      execute: async ({ handle, deadline }) => {
        seen.executeDeadlines.push(deadline - clock.now());
        await handle.put("hold", { held: true });
        return { ok: true };
      },
      probe: async ({ handle }) =>
        (await handle.get("hold")) === undefined ? notCommitted() : committed({ ok: true }),
      compensate: async ({ handle, deadline }) => {
        seen.calls.push(clock.now());
        seen.deadlines.push(deadline - clock.now());
        if (seen.calls.length <= failures) throw new StoreError("transient", "funds are busy");
        await handle.delete("hold");
        return compensated();
      },
    })
    .step("charge", {
      store,
      kind: "pivot",
      output: z.object({ ok: z.boolean() }),
      execute: async () => {
        throw new StoreError("not_committed", "the card was declined");
      },
      probe: async () => notCommitted(),
    })
    .build();
  return { saga, seen, store };
}

const gaps = (calls: readonly number[]) => calls.slice(1).map((t, i) => t - (calls[i] as number));

describe("a compensation's own retry and deadline", () => {
  it("without a compensation policy, a compensation is retried like its step's execute (as before)", async () => {
    const clock = new VirtualClock();
    const { saga, seen } = reserveSaga(clock, 5, {
      retry: { attempts: 2, initialDelayMs: 30, jitter: 0 },
    });
    const runner = createRunner({ clock, timeoutMs: 4_000 });
    const error = (await clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    expect(seen.calls).toHaveLength(2);
    expect(gaps(seen.calls)).toEqual([30]);
    expect(seen.deadlines).toEqual([4_000, 4_000]);
  });

  it("a step's compensation policy sets its attempts, backoff and deadline apart from execute's", async () => {
    const clock = new VirtualClock();
    const { saga, seen, store } = reserveSaga(clock, 4, {
      retry: { attempts: 1 },
      compensation: {
        retry: { attempts: 5, initialDelayMs: 10, factor: 2, maxDelayMs: 50, jitter: 0 },
        timeoutMs: 700,
      },
    });
    const runner = createRunner({ clock, timeoutMs: 4_000 });
    const error = (await clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    if (error.code !== ErrorCode.StepFailed) return;
    expect(error.report.status).toBe(SagaStatus.Compensated);
    expect(store.snapshot().hold).toBeUndefined();
    expect(seen.calls).toHaveLength(5);
    expect(gaps(seen.calls)).toEqual([10, 20, 40, 50]);
    expect(seen.deadlines).toEqual([700, 700, 700, 700, 700]);
    // The forward step keeps its own: one attempt, the runner's deadline.
    expect(seen.executeDeadlines).toEqual([4_000]);
  });

  it("a runner's compensation default applies to every step that sets none, field by field under the step's", async () => {
    const clock = new VirtualClock();
    const runner = createRunner({
      clock,
      timeoutMs: 4_000,
      compensation: { retry: { attempts: 4, initialDelayMs: 5, jitter: 0 }, timeoutMs: 900 },
    });
    const plain = reserveSaga(clock, 3, { retry: { attempts: 1 } });
    const plainError = (await clock.run(runner.run(plain.saga, {})))._unsafeUnwrapErr();
    expect(plainError.code === ErrorCode.StepFailed && plainError.report.status).toBe(
      SagaStatus.Compensated,
    );
    expect(plain.seen.calls).toHaveLength(4);
    expect(gaps(plain.seen.calls)).toEqual([5, 10, 20]);
    expect(plain.seen.deadlines).toEqual([900, 900, 900, 900]);

    const own = reserveSaga(clock, 5, {
      retry: { attempts: 1 },
      compensation: { retry: { attempts: 2 }, timeoutMs: 300 },
    });
    const ownError = (await clock.run(runner.run(own.saga, {})))._unsafeUnwrapErr();
    expect(ownError.code === ErrorCode.StepFailed && ownError.report.status).toBe(
      SagaStatus.Compensating,
    );
    expect(own.seen.calls).toHaveLength(2);
    // The step's attempts and deadline; the runner's backoff for what the step does not set.
    expect(gaps(own.seen.calls)).toEqual([5]);
    expect(own.seen.deadlines).toEqual([300, 300]);
  });
});

describe("compensation policy validation", () => {
  const clock = new VirtualClock();
  const build =
    (compensation: unknown, kind: "compensatable" | "pivot" = "compensatable") =>
    () =>
      defineSaga("s", { input: z.object({}) })
        .step("a", {
          store: createMemoryStore({ id: "m", tier: "plain" }),
          kind,
          output: z.object({}),
          execute: () => ({}),
          probe: () => committed({}),
          ...(kind === "compensatable" ? { compensate: () => compensated() } : {}),
          compensation: compensation as CompensationPolicy,
        })
        .build();

  it("names the bad value with the existing helpers", () => {
    expect(build({ retry: { attempts: 0 } })).toThrow(
      'Expected `step "a" of saga "s": compensation.retry.attempts` to be an integer >= 1, got `0` (number).',
    );
    expect(build({ timeoutMs: -5 })).toThrow(LockstepDefinitionError);
    expect(build({ timeoutMs: -5 })).toThrow('step "a" of saga "s": compensation.timeoutMs');
    expect(build({ retry: { jitter: 2 } })).toThrow("compensation.retry.jitter");
    expect(build("fast")).toThrow(
      'Expected `step "a" of saga "s": compensation` to be an object with `retry` and `timeoutMs`, each optional, got `"fast"` (string).',
    );
    expect(build({ timeout: 100 })).toThrow(
      'Expected `step "a" of saga "s": compensation` to have only `retry` and `timeoutMs`, got `timeout`.',
    );
  });

  it("refuses retryOn: a compensation retries every failure", () => {
    expect(build({ retry: { retryOn: ["transient"] } })).toThrow(
      '`step "a" of saga "s": compensation.retry.retryOn` is set, but a compensation retries every failure until its attempts run out; remove it.',
    );
  });

  it("refuses a compensation policy on a step that is never compensated", () => {
    expect(build({ timeoutMs: 100 }, "pivot")).toThrow(
      'Step "a" of saga "s" is pivot and so is never compensated, but it has a compensation policy; remove it or make the step compensatable.',
    );
  });

  it("validates the runner's default", () => {
    expect(() => createRunner({ clock, compensation: { timeoutMs: 0 } })).toThrow(
      "compensation.timeoutMs",
    );
    expect(() => createRunner({ clock, compensation: { retry: { attempts: 1.5 } } })).toThrow(
      "Expected `compensation.retry.attempts` to be an integer >= 1, got `1.5` (number).",
    );
  });
});

describe("explain shows each step's compensation policy", () => {
  it("per compensatable step, resolved over the library's defaults, or over a runner's", () => {
    const clock = new VirtualClock();
    const { saga } = reserveSaga(clock, 0, {
      retry: { attempts: 2 },
      compensation: { retry: { initialDelayMs: 100 }, timeoutMs: 2_500 },
    });
    const plan = explain(saga);
    expect(plan.steps[0]?.compensation).toMatchObject({
      attempts: 2,
      initialDelayMs: 100,
      maxDelayMs: 5_000,
      factor: 2,
      jitter: 0.5,
      timeoutMs: 2_500,
    });
    expect(plan.steps[0]?.compensation?.description).toContain("up to 2 attempts");
    expect(plan.steps[1]?.compensation).toBeUndefined();

    const runner = createRunner({
      clock,
      timeoutMs: 3_000,
      compensation: { retry: { attempts: 6, maxDelayMs: 800 } },
    });
    const withRunner = explain(saga, { runner });
    expect(withRunner.steps[0]?.compensation).toMatchObject({
      attempts: 6,
      initialDelayMs: 100,
      maxDelayMs: 800,
      timeoutMs: 2_500,
    });
    const defaults = reserveSaga(clock, 0);
    expect(explain(defaults.saga, { runner }).steps[0]?.compensation).toMatchObject({
      attempts: 6,
      timeoutMs: 3_000,
    });
  });
});
