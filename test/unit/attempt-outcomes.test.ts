import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type AttemptFence,
  cannotTell,
  committed,
  compensated,
  createRecoverer,
  createRunner,
  defineSaga,
  defineStore,
  ErrorCode,
  escalate,
  type Logger,
  MemorySagaLog,
  notCommitted,
  type RunnerOptions,
  SagaStatus,
  StoreError,
} from "../../src/index.js";
import { CrashSwitch } from "../../src/testing/crash-switch.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/** The status in the report a saga error carries. */
const statusOf = (error: object): unknown =>
  (error as { report?: { status?: unknown } }).report?.status;

interface World {
  readonly clock: VirtualClock;
  readonly log: MemorySagaLog;
  /** What the store holds: written keys. */
  readonly written: Set<string>;
  readonly wait: (ms: number) => Promise<void>;
  /** "status lastEntryType lastEntryAttempt" of the saga as the log holds it now. */
  readonly logged: () => Promise<string>;
}

function makeWorld(): World {
  const clock = new VirtualClock();
  const log = new MemorySagaLog();
  return {
    clock,
    log,
    written: new Set(),
    wait: (ms) => new Promise<void>((resolve) => clock.setTimer(resolve, ms)),
    logged: async () => {
      const [record] = await log.list();
      const last = record && (await log.load(record.sagaId))?.entries.at(-1);
      return `${record?.status} ${last?.step}:${last?.type}:${last?.attempt}`;
    },
  };
}

type Behaviour = (attempt: number, signal: AbortSignal) => Promise<unknown>;

interface Shape {
  readonly fence?: AttemptFence;
  readonly keyWindowMs?: number;
  readonly recovery?: "roll_forward";
  /** reserve (compensatable) before the pivot. @default writes and commits */
  readonly reserve?: Behaviour;
  /** The pivot's execute. @default writes and commits */
  readonly pay?: Behaviour;
  /** The pivot's probe. @default finds its write */
  readonly payProbe?: (attempt: number) => Promise<unknown>;
  readonly payRetry?: { attempts: number; initialDelayMs?: number };
  readonly payOutput?: z.ZodType;
  /** The pivot is declared idempotent by its key. */
  readonly payIdempotent?: boolean;
  /** notify (retriable, after the pivot). @default writes and commits */
  readonly notify?: Behaviour;
  /** notify's probe; none by default. */
  readonly notifyProbe?: () => Promise<unknown>;
  readonly notifyRetry?: { attempts: number; initialDelayMs?: number };
}

/** reserve (compensatable) → pay (pivot) → notify (retriable), on one store of `w`. */
function sagaOf(w: World, shape: Shape = {}) {
  const store = defineStore({
    id: "api",
    handle: w.written,
    ...(shape.fence === undefined ? {} : { fence: shape.fence }),
    ...(shape.keyWindowMs === undefined ? {} : { keyWindowMs: shape.keyWindowMs }),
  });
  const writes = (key: string, behaviour?: Behaviour): Behaviour =>
    behaviour ??
    (async () => {
      w.written.add(key);
      return {};
    });
  const reserve = writes("reserve", shape.reserve);
  const pay = writes("pay", shape.pay);
  const notify = writes("notify", shape.notify);
  return defineSaga("order", {
    input: z.object({}),
    ...(shape.recovery === undefined ? {} : { recovery: shape.recovery }),
  })
    .step("reserve", {
      store,
      kind: "compensatable",
      output: z.object({}),
      retry: { attempts: 1 },
      execute: ({ attempt, signal }) => reserve(attempt, signal) as never,
      probe: async () => (w.written.has("reserve") ? committed({}) : notCommitted()),
      compensate: async () => {
        w.written.delete("reserve");
        return compensated();
      },
    })
    .step("pay", {
      store,
      kind: "pivot",
      output: (shape.payOutput ?? z.object({})) as z.ZodType<Record<string, unknown>>,
      retry: { initialDelayMs: 0, jitter: 0, ...(shape.payRetry ?? { attempts: 1 }) },
      ...(shape.payIdempotent === undefined ? {} : { idempotent: shape.payIdempotent }),
      timeoutMs: 100,
      execute: ({ attempt, signal }) => pay(attempt, signal) as Promise<Record<string, unknown>>,
      probe: ({ attempt }) =>
        (shape.payProbe?.(attempt) ??
          Promise.resolve(w.written.has("pay") ? committed({}) : notCommitted())) as never,
    })
    .step("notify", {
      store,
      kind: "retriable",
      output: z.object({}),
      retry: { initialDelayMs: 0, jitter: 0, ...(shape.notifyRetry ?? { attempts: 1 }) },
      execute: ({ attempt, signal }) => notify(attempt, signal) as never,
      ...(shape.notifyProbe === undefined
        ? {}
        : { probe: shape.notifyProbe as () => Promise<never> }),
    })
    .build();
}

/** The entries the log holds for `step`, as `type attempt [kind: message]`. */
async function entriesOf(log: MemorySagaLog, step: string): Promise<string[]> {
  const [record] = await log.list();
  const snapshot = record && (await log.load(record.sagaId));
  return (snapshot?.entries ?? [])
    .filter((e) => e.step === step)
    .map((e) =>
      [e.type, e.attempt, e.error === undefined ? "" : `[${e.error.kind}: ${e.error.message}]`]
        .join(" ")
        .trim(),
    );
}

const never = () => new Promise<never>(() => {});

describe("an attempt whose call does not return", () => {
  it("past its deadline, is unknown as a timeout, saying so", async () => {
    const w = makeWorld();
    const saga = sagaOf(w, { pay: never, payProbe: async () => cannotTell() });
    const error = (
      await w.clock.run(createRunner({ clock: w.clock, log: w.log }).run(saga, {}))
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InDoubt);
    expect(await entriesOf(w.log, "pay")).toEqual([
      "intent 1",
      'unknown 1 [timeout: Step "pay" did not finish within its deadline.]',
    ]);
  });

  it("cancelled while running, is unknown of unknown kind, saying so", async () => {
    const w = makeWorld();
    const controller = new AbortController();
    const saga = sagaOf(w, {
      pay: async () => {
        controller.abort(new Error("the client left"));
        return never();
      },
      payProbe: async () => cannotTell(),
    });
    const runner = createRunner({ clock: w.clock, log: w.log });
    const result = await w.clock.run(runner.run(saga, {}, { signal: controller.signal }));
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    expect(await entriesOf(w.log, "pay")).toEqual([
      "intent 1",
      'unknown 1 [unknown: Step "pay" was cancelled while running.]',
    ]);
  });
});

describe("a run cancelled while a step waits out its backoff", () => {
  it("stops the wait, compensates, and ends cancelled with the signal's reason", async () => {
    const w = makeWorld();
    const reason = new Error("the client left");
    const controller = new AbortController();
    let calls = 0;
    const saga = sagaOf(w, {
      payRetry: { attempts: 3, initialDelayMs: 1_000 },
      pay: async () => {
        calls++;
        throw new StoreError("transient", "the bank is busy");
      },
    });
    const runner = createRunner({
      clock: w.clock,
      log: w.log,
      onEvent: (e) => {
        if (e.type === "step.retrying") w.clock.setTimer(() => controller.abort(reason), 10);
      },
    });
    const start = w.clock.now();
    const result = await w.clock.run(runner.run(saga, {}, { signal: controller.signal }));
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Cancelled);
    if (error.code !== ErrorCode.Cancelled) return;
    expect(error.reason).toBe(reason);
    expect(statusOf(error)).toBe(SagaStatus.Compensated);
    expect(calls).toBe(1);
    expect(w.written.has("reserve")).toBe(false);
    expect(w.clock.now() - start).toBeLessThan(1_000);
  });
});

describe("an escalation thrown as a cause", () => {
  const escalation = (): Error => {
    try {
      escalate("the escrow was voided");
    } catch (error) {
      return error as Error;
    }
    throw new Error("escalate did not throw");
  };
  const wrapped = (depth: number): Error => {
    let error = escalation();
    for (let d = 0; d < depth; d++) error = new Error(`wrapper ${d}`, { cause: error });
    return error;
  };
  const run = async (thrown: unknown) => {
    const w = makeWorld();
    const saga = sagaOf(w, {
      pay: async () => {
        throw thrown;
      },
      payProbe: async () => notCommitted(),
      fence: { mode: "in_process" },
    });
    return (
      await w.clock.run(createRunner({ clock: w.clock, log: w.log }).run(saga, {}))
    )._unsafeUnwrapErr();
  };

  it("is found up to 16 errors down the cause chain, and no deeper", async () => {
    expect((await run(wrapped(15))).code).toBe(ErrorCode.NeedsAttention);
    const deeper = await run(wrapped(16));
    expect(deeper.code).toBe(ErrorCode.StepFailed);
    expect(statusOf(deeper)).toBe(SagaStatus.Compensated);
  });

  it("is looked for safely in a cause chain that loops or ends in null", async () => {
    const looping = new Error("a", { cause: undefined });
    (looping as { cause?: unknown }).cause = looping;
    expect((await run(looping)).code).toBe(ErrorCode.StepFailed);
    const nulled = new StoreError("not_committed", "declined");
    (nulled as { cause?: unknown }).cause = null;
    const error = await run(nulled);
    expect(error.code).toBe(ErrorCode.StepFailed);
    expect(statusOf(error)).toBe(SagaStatus.Compensated);
  });
});

describe("a saga that rolls forward", () => {
  for (const kind of ["not_committed", "conflict"] as const) {
    it(`is compensated when its pivot is refused for good (${kind})`, async () => {
      const w = makeWorld();
      const saga = sagaOf(w, {
        recovery: "roll_forward",
        pay: async () => {
          throw new StoreError(kind, "refused");
        },
        payProbe: async () => notCommitted(),
      });
      const runner = createRunner({ clock: w.clock, log: w.log });
      const error = (await w.clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.StepFailed);
      expect(statusOf(error)).toBe(SagaStatus.Compensated);
      expect(w.written.has("reserve")).toBe(false);
    });
  }
});

describe("an output that fails its step's schema", () => {
  it("names the first issue, with its path when it has one", async () => {
    const cases: [unknown, string, z.ZodType?][] = [
      [{ amount: "ten" }, "`amount`: Invalid input: expected number, received string"],
      [
        { card: { amount: "ten" } },
        "`card.amount`: Invalid input: expected number, received string",
        z.object({ card: z.object({ amount: z.number() }) }),
      ],
      ["ten", "Invalid input: expected object, received string"],
    ];
    for (const [value, said, output] of cases) {
      const w = makeWorld();
      const saga = sagaOf(w, {
        payOutput: output ?? z.object({ amount: z.number() }),
        pay: async () => value as never,
      });
      const runner = createRunner({ clock: w.clock, log: w.log });
      const error = (await w.clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.NeedsAttention);
      expect(error.message).toContain(
        `The output of step "pay" failed its schema (${said}); its write may be in place.`,
      );
    }
  });
});

describe("a probe", () => {
  const probed = async (shape: Shape, logger?: Logger) => {
    const w = makeWorld();
    const results: string[] = [];
    const saga = sagaOf(w, { pay: never, ...shape });
    const runner = createRunner({
      clock: w.clock,
      log: w.log,
      ...(logger === undefined ? {} : { logger }),
      onEvent: (e) => {
        if (e.type === "step.probed") results.push(`${e.step} ${e.result}`);
      },
    });
    const error = (await w.clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
    return { error, results };
  };
  const quiet = (warnings: string[]): Logger => ({
    debug: () => {},
    error: () => {},
    warn: (fields, message) => warnings.push(`${JSON.stringify(fields)} ${message}`),
  });

  it("that cannot tell is reported as unknown; the step is in doubt", async () => {
    const { error, results } = await probed({ payProbe: async () => cannotTell() });
    expect(error.code).toBe(ErrorCode.InDoubt);
    expect(results).toEqual(["pay unknown"]);
  });

  it("that returns nothing cannot tell either", async () => {
    const { error, results } = await probed({ payProbe: async () => undefined });
    expect(error.code).toBe(ErrorCode.InDoubt);
    expect(results).toEqual(["pay unknown"]);
  });

  it("that finds a commit whose output fails the schema reports it committed; the saga needs attention", async () => {
    const { error, results } = await probed({
      payOutput: z.object({ amount: z.number() }),
      payProbe: async () => committed({ amount: "ten" }),
    });
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    expect(results).toEqual(["pay committed"]);
  });

  it("that throws is logged as a warning, naming the step and the error; one that times out is not", async () => {
    const warnings: string[] = [];
    const failing = await probed(
      {
        payProbe: async () => {
          throw new Error("ledger offline");
        },
      },
      quiet(warnings),
    );
    expect(failing.error.code).toBe(ErrorCode.InDoubt);
    expect(failing.results).toEqual(["pay unknown"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"step":"pay","error":"ledger offline"}');
    expect(warnings[0]).toContain("lockstep: a probe failed; the step stays in doubt");

    const slow: string[] = [];
    const timedOut = await probed({ payProbe: never }, quiet(slow));
    expect(timedOut.error.code).toBe(ErrorCode.InDoubt);
    expect(slow).toEqual([]);
  });
});

/** Runs `saga` until `crash` kills the process, then recovers it in a fresh one. */
async function crashAndRecover(
  w: World,
  saga: ReturnType<typeof sagaOf>,
  crash: CrashSwitch,
  watch: Pick<RunnerOptions, "onEvent" | "logger"> = {},
) {
  const runner = createRunner({ clock: w.clock, log: crash.wrapLog(w.log), leaseTtlMs: 1_000 });
  await w.clock.run(runner.run(saga, {}, { sagaId: "c-1" }));
  expect(crash.dead).toBe(true);
  const recoverer = createRecoverer({
    runner: createRunner({ clock: w.clock, log: w.log, leaseTtlMs: 1_000, ...watch }),
    sagas: [saga],
  });
  w.clock.advance(5_000);
  const pass = (await w.clock.run(recoverer.recover()))._unsafeUnwrap();
  return pass.sagas[0];
}

describe("recovering a step a crashed process left unknown", () => {
  it("on a store that declares no fence, does not trust a probe that finds nothing: the saga is in doubt", async () => {
    const w = makeWorld();
    const crash = new CrashSwitch();
    const saga = sagaOf(w, { pay: async () => crash.trip("pay") });
    const recovered = await crashAndRecover(w, saga, crash);
    expect(recovered?.error?.code).toBe(ErrorCode.InDoubt);
    expect(w.written.has("reserve")).toBe(true);
    expect((await w.log.load("c-1"))?.record.status).toBe(SagaStatus.InDoubt);
  });

  it("on a store with a landing horizon, probes again once it has passed and finds a write that landed late", async () => {
    const w = makeWorld();
    const crash = new CrashSwitch();
    let probes = 0;
    let pays = 0;
    const saga = sagaOf(w, {
      fence: { mode: "landing_horizon", horizonMs: 200 },
      pay: async () => {
        pays++;
        return crash.trip("pay");
      },
      payProbe: async () => {
        probes++;
        // Probe 1 is the dying process's own. The write is still in flight when the recoverer
        // first looks (probe 2), and lands while it waits out the horizon.
        if (probes === 2) w.clock.setTimer(() => w.written.add("pay"), 50);
        return w.written.has("pay") ? committed({}) : notCommitted();
      },
    });
    const recovered = await crashAndRecover(w, saga, crash);
    expect(probes).toBe(3);
    expect(pays, "the late write is found, not made again").toBe(1);
    expect(recovered?.outcome).toBe("completed");
    expect([...w.written].sort()).toEqual(["notify", "pay", "reserve"]);
  });

  it("asks the probe about the attempt that was running", async () => {
    const w = makeWorld();
    const crash = new CrashSwitch();
    const asked: number[] = [];
    const saga = sagaOf(w, {
      fence: { mode: "in_process" },
      payRetry: { attempts: 3 },
      pay: async (attempt) => {
        if (attempt === 1) throw new StoreError("transient", "busy");
        return crash.trip("pay");
      },
      payProbe: async (attempt) => {
        asked.push(attempt);
        return notCommitted();
      },
    });
    const recovered = await crashAndRecover(w, saga, crash);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((attempt) => attempt === 2)).toBe(true);
    expect(recovered?.outcome).toBe("compensated");
  });

  it("a retriable step with a probe that cannot tell stays in doubt: it is not run again blind", async () => {
    const w = makeWorld();
    const crash = new CrashSwitch();
    let notifies = 0;
    const saga = sagaOf(w, {
      fence: { mode: "in_process" },
      notifyRetry: { attempts: 3 },
      notify: async () => {
        notifies++;
        return crash.trip("notify");
      },
      notifyProbe: async () => cannotTell(),
    });
    const recovered = await crashAndRecover(w, saga, crash);
    expect(recovered?.error?.code).toBe(ErrorCode.InDoubt);
    expect(notifies).toBe(1);
  });
});

describe("recovering a retriable step without a probe that a crashed process left unknown", () => {
  it("runs it again by its key, asking no probe and warning of nothing", async () => {
    const w = makeWorld();
    const crash = new CrashSwitch();
    let notifies = 0;
    const saga = sagaOf(w, {
      // A key window makes notify's intent durable, so the crash leaves it unknown.
      keyWindowMs: 60_000,
      notify: async () => {
        notifies++;
        if (notifies === 1) return crash.trip("notify");
        w.written.add("notify");
        return {};
      },
    });
    const heard: string[] = [];
    const recovered = await crashAndRecover(w, saga, crash, {
      onEvent: (e) => {
        if (e.type === "step.probed") heard.push(`probed ${e.step}`);
      },
      logger: {
        debug: () => {},
        error: (_, message) => heard.push(message),
        warn: (_, message) => heard.push(message),
      },
    });
    expect(recovered?.outcome).toBe("completed");
    expect(notifies).toBe(2);
    expect(await entriesOf(w.log, "notify")).toEqual(["intent 1", "intent 2", "committed 2"]);
    expect(heard).toEqual([]);
  });
});

describe("a step's write-ahead intent", () => {
  it("is durable before a pivot executes even when the pivot is declared idempotent by its key", async () => {
    const w = makeWorld();
    const seen: string[] = [];
    const saga = sagaOf(w, {
      payIdempotent: true,
      pay: async () => {
        seen.push(await w.logged());
        return {};
      },
    });
    const runner = createRunner({ clock: w.clock, log: w.log });
    expect((await w.clock.run(runner.run(saga, {})))._unsafeUnwrap().status).toBe("completed");
    expect(seen).toEqual(["running pay:intent:1"]);
  });

  it("is durable before execute for every step that a crash could not settle by re-running it", async () => {
    const w = makeWorld();
    const seen: string[] = [];
    const saga = sagaOf(w, {
      keyWindowMs: 60_000,
      reserve: async () => {
        seen.push(await w.logged());
        return {};
      },
      pay: async (attempt) => {
        seen.push(await w.logged());
        if (attempt === 1) throw new StoreError("transient", "busy");
        return {};
      },
      payRetry: { attempts: 2 },
      // Retriable without a probe, but its store forgets keys: the intent starts the window.
      notify: async () => {
        seen.push(await w.logged());
        return {};
      },
    });
    const runner = createRunner({ clock: w.clock, log: w.log });
    expect((await w.clock.run(runner.run(saga, {})))._unsafeUnwrap().status).toBe("completed");
    expect(seen).toEqual([
      "running reserve:intent:1",
      "running pay:intent:1",
      "running pay:intent:2",
      "running notify:intent:1",
    ]);
  });
});

describe("a saga that starts with a retriable step on a store that fences by token", () => {
  it("records every attempt's intent, also after a fenced-off attempt that timed out", async () => {
    const w = makeWorld();
    const store = defineStore({ id: "api", handle: w.written, fence: { mode: "fence_token" } });
    let calls = 0;
    const saga = defineSaga("ping", { input: z.object({}) })
      .step("ping", {
        store,
        kind: "retriable",
        output: z.object({}),
        timeoutMs: 50,
        retry: { attempts: 2, initialDelayMs: 0, jitter: 0 },
        execute: async () => {
          calls++;
          if (calls === 1) return never();
          return {};
        },
      })
      .build();
    const runner = createRunner({ clock: w.clock, log: w.log });
    expect((await w.clock.run(runner.run(saga, {})))._unsafeUnwrap().status).toBe("completed");
    expect(await entriesOf(w.log, "ping")).toEqual([
      "intent 1",
      'unknown 1 [timeout: Step "ping" did not finish within its deadline.]',
      "intent 2",
      "committed 2",
    ]);
  });
});
