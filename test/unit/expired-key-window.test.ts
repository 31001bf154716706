import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { KeyWindow } from "../../src/core/key-window.js";
import {
  AttentionReason,
  cannotTell,
  committed,
  createRunner,
  defineSaga,
  defineStore,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  type ProbeResult,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/**
 * A step whose idempotency key has outlived its store's key window is never sent again before its
 * probe has looked: what the probe finds decides whether the step is committed, executed again, or
 * left in doubt (idempotency_window_expired).
 */
const WINDOW_MS = 1_000;

interface Seen {
  executes: number;
  probes: { attempt: number; keyWindow: KeyWindow | undefined }[];
}

/**
 * One retriable `charge` step on a store that remembers keys for WINDOW_MS. `failures` lists how
 * each execute fails (the last one passing the window first); later executes succeed.
 */
function world(options: {
  failures: (() => Error)[];
  probe?: () => ProbeResult<{ id: string }>;
  fence?: { mode: "in_process" };
}) {
  const clock = new VirtualClock();
  const log = new MemorySagaLog();
  const store = defineStore({
    id: "psp",
    handle: {},
    keyWindowMs: WINDOW_MS,
    ...(options.fence ? { fence: options.fence } : {}),
  });
  const seen: Seen = { executes: 0, probes: [] };
  const probe = options.probe;
  const saga = defineSaga("charge", { input: z.object({}) })
    .step("charge", {
      store,
      kind: "retriable",
      output: z.object({ id: z.string() }),
      retry: { attempts: 4, initialDelayMs: 0, maxDelayMs: 0, jitter: 0 },
      execute: async () => {
        seen.executes++;
        const failure = options.failures[seen.executes - 1];
        if (failure === undefined) return { id: `c-${seen.executes}` };
        if (seen.executes === options.failures.length) clock.advance(WINDOW_MS + 1);
        throw failure();
      },
      ...(probe === undefined
        ? {}
        : {
            probe: async (ctx: { attempt: number; keyWindow: KeyWindow | undefined }) => {
              seen.probes.push({ attempt: ctx.attempt, keyWindow: ctx.keyWindow });
              return probe();
            },
          }),
    } as never)
    .build();
  const runner = createRunner({ clock, log, leaseTtlMs: 60_000, random: () => 0.5 });
  const run = () => clock.run(runner.run(saga, {}, { sagaId: "s-1" }));
  return { run, seen, log };
}

const busy = () => new StoreError("transient", "the provider is busy");

describe("a key that has outlived its store's key window", () => {
  it("is not sent again when the probe finds the write: the step commits by the probe, at its last attempt", async () => {
    const { run, seen, log } = world({
      failures: [busy, busy],
      probe: () => committed({ id: "found" }),
    });
    const report = (await run())._unsafeUnwrap();
    expect(report.steps[0]?.committedVia).toBe("probe");
    expect(seen.executes).toBe(2);
    expect(seen.probes).toHaveLength(1);
    expect(seen.probes[0]?.attempt).toBe(2);
    expect(seen.probes[0]?.keyWindow?.expired).toBe(true);
    const entries = (await log.load("s-1"))?.entries ?? [];
    const commit = entries.find((e) => e.type === "committed");
    expect(commit).toMatchObject({
      step: "charge",
      attempt: 2,
      via: "probe",
      output: { id: "found" },
    });
  });

  it("is sent again once the probe proves the write absent", async () => {
    const { run, seen } = world({ failures: [busy], probe: () => notCommitted() });
    const report = (await run())._unsafeUnwrap();
    expect(report.steps[0]?.committedVia).toBe("execute");
    expect(seen.executes).toBe(2);
    expect(seen.probes).toHaveLength(1);
  });

  it("leaves the step in doubt, never re-sent, when the probe cannot tell", async () => {
    const { run, seen, log } = world({
      failures: [busy],
      probe: () => cannotTell("the lookup is down"),
    });
    const error = (await run())._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InDoubt);
    expect(error.code === ErrorCode.InDoubt && error.reason).toBe(
      AttentionReason.IdempotencyWindowExpired,
    );
    expect(seen.executes).toBe(1);
    expect((await log.load("s-1"))?.record.attention?.reason).toBe(
      AttentionReason.IdempotencyWindowExpired,
    );
  });

  it("leaves a step without a probe in doubt, never re-sent, even where earlier attempts close", async () => {
    const { run, seen } = world({
      failures: [() => new Error("the response was lost")],
      fence: { mode: "in_process" },
    });
    const error = (await run())._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InDoubt);
    expect(error.code === ErrorCode.InDoubt && error.reason).toBe(
      AttentionReason.IdempotencyWindowExpired,
    );
    expect(seen.executes).toBe(1);
  });

  it("stops the saga for a person when what the probe found fails the step's schema", async () => {
    const { run, seen } = world({
      failures: [busy],
      probe: () => committed({ id: 42 }) as never,
    });
    const error = (await run())._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    if (error.code !== ErrorCode.NeedsAttention) return;
    expect(error.reason).toBe(AttentionReason.InvalidOutput);
    expect(error.step).toBe("charge");
    expect(seen.executes).toBe(1);
  });
});
