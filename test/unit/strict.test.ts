import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import { createRunner, defineSaga, LockstepDefinitionError } from "../../src/index.js";
import { bountySagas, createMemoryBountyPorts } from "../../src/recipes/bounty/index.js";

const store = createMemoryStore({ tier: "plain" });
const retriable = (idempotent?: boolean) =>
  defineSaga(`notify-${String(idempotent)}`, { input: z.object({}) })
    .step("notify", {
      store,
      kind: "retriable",
      output: z.object({ ok: z.boolean() }),
      ...(idempotent === undefined ? {} : { idempotent }),
      execute: () => ({ ok: true }),
    })
    .build();

describe("a strict runner", () => {
  it("refuses, before writing anything, a saga whose plan has a gap", () => {
    const runner = createRunner({ strict: true });
    expect(() => runner.run(retriable(), {})).toThrowError(LockstepDefinitionError);
    expect(() => runner.run(retriable(), {})).toThrowError(/no probe/);
  });

  it("runs a retriable step without a probe once it is declared idempotent", async () => {
    const runner = createRunner({ strict: true });
    expect((await runner.run(retriable(true), {}))._unsafeUnwrap().status).toBe("completed");
  });

  it("accepts every bounty saga: each step is probed or declared idempotent", async () => {
    const runner = createRunner({ strict: true });
    const sagas = bountySagas(await createMemoryBountyPorts({ balances: { alice: 10 } }));
    const results = await Promise.all(
      [sagas.cancel, sagas.expire].map((saga) => runner.run(saga, { bountyId: "missing" })),
    );
    // They ran (and failed on the missing bounty) rather than being refused as undefined gaps.
    expect(results.map((r) => r._unsafeUnwrapErr().code)).toEqual(["step_failed", "step_failed"]);
  });

  it("names a bad option", () => {
    expect(() => createRunner({ strict: "yes" as never })).toThrowError(
      'Expected `strict` to be a boolean, got `"yes"` (string).',
    );
  });
});
