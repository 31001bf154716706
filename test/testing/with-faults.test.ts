import { describe, expect, it } from "vitest";
import {
  defineStore,
  LockstepDefinitionError,
  MemorySagaLog,
  type SagaLog,
  SagaLogError,
  type SagaRecord,
  SagaStatus,
  SCHEMA_VERSION,
  StoreError,
} from "../../src/index.js";
import {
  CrashSwitch,
  createMemoryStore,
  FaultInjector,
  type FaultPlan,
  randomFaultPlan,
  SimulatedCrash,
  VirtualClock,
  withFaults,
} from "../../src/testing/index.js";

const NO_RULES: FaultPlan = { seed: 0, rules: [] };

const once = (site: string, kind: FaultPlan["rules"][number]["kind"], extra = {}): FaultPlan => ({
  seed: 42,
  rules: [{ site, kind, times: 1, ...extra }],
});

function record(sagaId: string): SagaRecord {
  return {
    schemaVersion: SCHEMA_VERSION,
    sagaId,
    definition: { name: "s", version: 1, steps: [] },
    input: null,
    status: SagaStatus.Running,
    attention: null,
    fencingToken: 1,
    leaseOwner: "me",
    leaseExpiresAt: 1_000,
    recoveryAttempts: 0,
    nextRecoveryAt: 0,
    createdAt: 0,
    updatedAt: 0,
  };
}

describe("withFaults on a store", () => {
  it("fails before the effect: nothing is written and the error has the rule's kind and the seed", async () => {
    const store = createMemoryStore({ id: "orders", tier: "plain" });
    const faulty = withFaults(
      store,
      once("orders.handle.put", "fail_before", { errorKind: "transient" }),
    );
    const error = await faulty.handle.put("a", 1).catch((e: unknown) => e);
    expect(StoreError.is(error)).toBe(true);
    expect((error as StoreError).kind).toBe("transient");
    expect((error as Error).message).toContain("seed 42");
    expect(store.snapshot().a).toBeUndefined();
    await faulty.handle.put("a", 2);
    expect(store.snapshot().a?.value).toBe(2);
  });

  it("fails after the effect: the write lands, the caller sees an error that never claims otherwise", async () => {
    const store = createMemoryStore({ id: "orders", tier: "plain" });
    const faulty = withFaults(store, once("orders.handle.put", "fail_after"));
    const error = await faulty.handle.put("a", 1).catch((e: unknown) => e);
    expect(["unknown", "timeout"]).toContain((error as StoreError).kind);
    expect(store.snapshot().a?.value).toBe(1);
  });

  it("hangs forever without a signal, and until the signal aborts with one, never writing", async () => {
    const clock = new VirtualClock();
    const store = createMemoryStore({ id: "funds", tier: "batch" });
    const faulty = withFaults(store, { seed: 1, rules: [{ site: "funds.*", kind: "hang" }] });
    const hung = await clock.settle(faulty.handle.put("a", 1));
    expect(hung).toEqual({ status: "stuck", reason: "idle" });
    const controller = new AbortController();
    clock.setTimer(() => controller.abort(), 500);
    const batch = faulty.batch as NonNullable<typeof faulty.batch>;
    const aborted = await clock.settle(
      batch([{ op: "put", key: "b", value: 1 }], { signal: controller.signal, deadline: 0 }),
    );
    expect(aborted.status).toBe("rejected");
    expect(clock.now()).toBe(1_700_000_000_500);
    expect(store.snapshot()).toEqual({});
  });

  it("adds latency on the injected clock: the effect lands at once, the answer comes later", async () => {
    const clock = new VirtualClock();
    const store = createMemoryStore({ id: "funds", tier: "plain" });
    const faulty = withFaults(store, once("funds.handle.put", "latency", { latencyMs: 5_000 }), {
      clock,
    });
    const start = clock.now();
    let answered = false;
    const put = faulty.handle.put("a", 1).then(() => {
      answered = true;
    });
    await clock.settle(Promise.resolve());
    expect(store.snapshot().a?.value).toBe(1);
    expect(answered).toBe(false);
    await clock.settle(put);
    expect(answered).toBe(true);
    const waited = clock.now() - start;
    expect(waited).toBeGreaterThanOrEqual(1);
    expect(waited).toBeLessThanOrEqual(5_000);
  });

  it("crashes the simulated process: the call and every later one throw, nothing more lands", async () => {
    const crash = new CrashSwitch();
    const store = createMemoryStore({ id: "funds", tier: "transactional" });
    const faulty = withFaults(store, once("funds.handle.put", "crash"), { crash });
    await expect(faulty.handle.put("a", 1)).rejects.toSatisfy(SimulatedCrash.is);
    expect(crash.dead).toBe(true);
    expect(crash.crashedAt).toBe("funds.handle.put");
    await expect(faulty.handle.get("a")).rejects.toSatisfy(SimulatedCrash.is);
    await expect(faulty.handle.put("b", 1)).rejects.toSatisfy(SimulatedCrash.is);
    expect(store.snapshot()).toEqual({});
  });

  it("makes every write a crash boundary before and after its effect, reads none", async () => {
    const crash = new CrashSwitch();
    const store = createMemoryStore({ id: "funds", tier: "plain" });
    const faulty = withFaults(store, { seed: 0, rules: [] }, { crash, reads: ["get", "list"] });
    await faulty.handle.put("a", 1);
    await faulty.handle.get("a");
    await faulty.handle.list();
    await faulty.handle.delete("a");
    expect(crash.boundaries).toEqual([
      "before funds.handle.put",
      "after funds.handle.put",
      "before funds.handle.delete",
      "after funds.handle.delete",
    ]);
  });

  it("wraps transactions: their handle's calls are sites, and a process that died inside cannot commit", async () => {
    const crash = new CrashSwitch();
    const store = createMemoryStore({ id: "funds", tier: "transactional" });
    const seen: string[] = [];
    const injector = new FaultInjector(once("funds.tx.delete", "crash"), {
      onFault: (f) => seen.push(f.site),
    });
    const faulty = withFaults(store, injector, { crash });
    const transaction = faulty.transaction as NonNullable<typeof faulty.transaction>;
    const scope = { signal: new AbortController().signal, deadline: 0 };
    await transaction(async (tx) => {
      await tx.put("a", 1);
      // Work that swallows the crash still cannot commit: the process is dead.
      await tx.delete("zzz").catch(() => undefined);
      return "done";
    }, scope).catch(() => undefined);
    expect(seen).toEqual(["funds.tx.delete"]);
    expect(store.snapshot()).toEqual({});
    expect(crash.boundaries).toEqual(["before funds.transaction"]);
    expect(injector.sites.map((s) => s.site)).toEqual([
      "funds.transaction",
      "funds.tx.put",
      "funds.tx.delete",
    ]);
  });

  it("lets a long-lived process run many transactions without piling listeners on its signal", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on("warning", onWarning);
    const crash = new CrashSwitch();
    const faulty = withFaults(createMemoryStore({ id: "db", tier: "transactional" }), NO_RULES, {
      crash,
    });
    const transaction = faulty.transaction as NonNullable<typeof faulty.transaction>;
    const scope = { signal: new AbortController().signal, deadline: 0 };
    for (let i = 0; i < 50; i++) await transaction((tx) => tx.put(`k${i}`, i), scope);
    await new Promise((resolve) => setImmediate(resolve));
    process.off("warning", onWarning);
    expect(warnings.filter((w) => /listener/i.test(w))).toEqual([]);
    expect(Object.keys(faulty.snapshot())).toHaveLength(50);
  });

  it("hands the adapter its own handle in apply, and reads everything else through", async () => {
    const store = createMemoryStore({ id: "funds", tier: "plain", seed: { a: 1 } });
    const injector = new FaultInjector({ seed: 0, rules: [] });
    const faulty = withFaults(store, injector);
    await faulty.apply(
      faulty.handle,
      { op: "put", key: "b", value: 2 },
      {
        signal: new AbortController().signal,
        deadline: 0,
      },
    );
    expect(injector.sites.map((s) => s.site)).toEqual(["funds.apply"]);
    expect(faulty.snapshot().b?.value).toBe(2);
    expect(faulty.writeCount).toBe(1);
    expect(faulty.tier).toBe("plain");
    expect(faulty.capabilities).toBe(store.capabilities);
    const hook = () => undefined;
    faulty.faults = hook;
    expect(store.faults).toBe(hook);
  });

  it("is generated from the adapter's own methods, whatever they are called", async () => {
    const calls: string[] = [];
    const handle = {
      frobnicate: async (n: number) => {
        calls.push(`frobnicate ${n}`);
        return n * 2;
      },
    };
    const store = defineStore({ id: "custom", handle });
    const faulty = withFaults(store, once("custom.handle.frobnicate", "fail_after"));
    await expect(faulty.handle.frobnicate(2)).rejects.toThrow(/custom\.handle\.frobnicate/);
    expect(await faulty.handle.frobnicate(3)).toBe(6);
    expect(calls).toEqual(["frobnicate 2", "frobnicate 3"]);
  });

  it("refuses what is neither a store nor a log, naming the value and its type", () => {
    expect(() => withFaults(42 as never, { seed: 0, rules: [] })).toThrow(
      new LockstepDefinitionError(
        "Expected withFaults to wrap a store made by defineStore or a saga log, got `42` (number).",
      ),
    );
    expect(() =>
      withFaults(createMemoryStore({ tier: "plain" }), {
        seed: 0,
        rules: [{ site: "*", kind: "fail_before", probability: 2 }],
      }),
    ).toThrow(
      "Expected `plan.rules[0].probability` to be a probability from 0 to 1, got `2` (number).",
    );
    expect(() => withFaults(createMemoryStore({ tier: "plain" }), { seed: -1, rules: [] })).toThrow(
      "Expected `plan.seed` to be an integer from 0 to 4294967295, got `-1` (number).",
    );
    expect(() =>
      withFaults(createMemoryStore({ tier: "plain" }), {
        seed: 0,
        rules: [{ site: "*", kind: "explode" as never }],
      }),
    ).toThrow(
      'Expected `plan.rules[0].kind` to be one or more of fail_before, fail_after, hang, crash, latency, late_landing, slow_commit, got `"explode"` (string).',
    );
  });
});

describe("withFaults on a saga log", () => {
  it("fails log writes with SagaLogError io naming the saga, and keeps the log's own class", async () => {
    const log = new MemorySagaLog();
    const faulty: SagaLog = withFaults(log, once("log.create", "fail_after"));
    expect(faulty).toBeInstanceOf(MemorySagaLog);
    const error = await faulty.create(record("s-1")).catch((e: unknown) => e);
    expect(SagaLogError.is(error)).toBe(true);
    expect((error as SagaLogError).reason).toBe("io");
    expect((error as SagaLogError).sagaId).toBe("s-1");
    expect(log.size).toBe(1);
    expect((faulty as MemorySagaLog).size).toBe(1);
  });

  it("makes log writes boundaries and log reads checks, like CrashSwitch.wrapLog", async () => {
    const crash = new CrashSwitch(3);
    const faulty = withFaults(new MemorySagaLog(), { seed: 0, rules: [] }, { crash });
    await faulty.create(record("s-1"));
    await faulty.load("s-1");
    await expect(faulty.write("s-1", 1, { now: 1 })).rejects.toSatisfy(SimulatedCrash.is);
    await expect(faulty.load("s-1")).rejects.toSatisfy(SimulatedCrash.is);
    expect(crash.boundaries).toEqual(["before log.create", "after log.create", "before log.write"]);
  });

  it("wraps coCommit.write and hands the log the raw transaction handle", async () => {
    const store = createMemoryStore({ id: "db", tier: "transactional" });
    const received: unknown[] = [];
    const log = Object.assign(new MemorySagaLog(), {});
    const withCoCommit = new Proxy(log, {
      get: (target, key) =>
        key === "coCommit"
          ? {
              storeId: "db",
              write: async (tx: unknown) => {
                received.push(tx);
              },
            }
          : Reflect.get(target, key, target),
    }) as SagaLog;
    const injector = new FaultInjector({ seed: 0, rules: [] });
    const faultyLog = withFaults(withCoCommit, injector);
    const faultyStore = withFaults(store, injector);
    const transaction = faultyStore.transaction as NonNullable<typeof faultyStore.transaction>;
    let wrappedTx: unknown;
    await transaction(
      async (tx) => {
        wrappedTx = tx;
        await faultyLog.coCommit?.write(tx, "s-1", 1, { now: 0 });
      },
      { signal: new AbortController().signal, deadline: 0 },
    );
    expect(received).toHaveLength(1);
    expect(received[0]).not.toBe(wrappedTx);
    expect(typeof (received[0] as { put?: unknown }).put).toBe("function");
    expect(injector.sites.map((s) => s.site)).toContain("log.coCommit.write");
  });
});

describe("two-level seeded randomness", () => {
  const sites = Array.from({ length: 400 }, (_, i) => `site-${i}`);

  it("activates each site with probability p1 and fires an active one with p2, replaying from the seed", () => {
    const run = (seed: number) => {
      const injector = new FaultInjector(
        randomFaultPlan(seed, {
          active: 0.5,
          probability: 0.25,
          kinds: ["fail_before"],
          times: 1_000,
        }),
      );
      for (const site of sites) for (let call = 0; call < 20; call++) injector.decide(site);
      return injector;
    };
    const first = run(7);
    const active = first.sites.filter((s) => s.active);
    expect(active.length).toBeGreaterThan(400 * 0.4);
    expect(active.length).toBeLessThan(400 * 0.6);
    const fires = active.reduce((n, s) => n + s.fires, 0);
    expect(fires / (active.length * 20)).toBeGreaterThan(0.2);
    expect(fires / (active.length * 20)).toBeLessThan(0.3);
    expect(first.sites.filter((s) => !s.active).every((s) => s.fires === 0)).toBe(true);
    expect(run(7).fired).toEqual(first.fired);
    expect(run(8).fired).not.toEqual(first.fired);
  });

  it("decides each site from its own stream, whatever order the sites are called in", () => {
    const plan = randomFaultPlan(3, { active: 1, probability: 0.5 });
    const forward = new FaultInjector(plan);
    const backward = new FaultInjector(plan);
    for (const site of sites.slice(0, 50)) for (let c = 0; c < 5; c++) forward.decide(site);
    for (const site of sites.slice(0, 50).reverse())
      for (let c = 0; c < 5; c++) backward.decide(site);
    const key = (i: FaultInjector) => i.fired.map((f) => `${f.site}#${f.call}:${f.kind}`).sort();
    expect(key(backward)).toEqual(key(forward));
    expect(forward.fired.length).toBeGreaterThan(0);
  });

  it("fires nothing while disabled and then resumes the same streams", () => {
    const injector = new FaultInjector({ seed: 1, rules: [{ site: "*", kind: "fail_before" }] });
    injector.enabled = false;
    expect(injector.decide("a")).toBeUndefined();
    injector.enabled = true;
    expect(injector.decide("a")?.call).toBe(1);
  });
});
