import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  createRecoverer,
  createRunner,
  defineSaga,
  LockstepDefinitionError,
} from "../../src/index.js";

const store = createMemoryStore({ tier: "plain" });
const out = z.object({ ok: z.boolean() });

function saga(name: string, version: number, step: string) {
  return defineSaga(name, { input: z.object({}), version })
    .step(step, { store, kind: "retriable", output: out, execute: async () => ({ ok: true }) })
    .build();
}

describe("the sagas a recoverer is given", () => {
  it("refuses two different definitions with the same name and version, naming both", () => {
    const first = saga("order", 2, "charge");
    const second = saga("order", 2, "refund");
    let thrown: unknown;
    try {
      createRecoverer({ runner: createRunner(), sagas: [saga("other", 1, "a"), first, second] });
    } catch (error) {
      thrown = error;
    }
    // Recovery would otherwise drive a logged saga with whichever came last, silently.
    expect(LockstepDefinitionError.is(thrown), "two definitions of order v2 were accepted").toBe(
      true,
    );
    expect((thrown as Error).message).toBe(
      'The recoverer was given two definitions of saga "order" version 2, `sagas[1]` (steps charge) and `sagas[2]` (steps refund); recovery could not tell which one a logged saga ran with. Pass each definition once, and give a changed one a new version.',
    );
  });

  it("accepts the same definition listed twice, and the same name under two versions", () => {
    const v1 = saga("order", 1, "charge");
    const v2 = saga("order", 2, "charge");
    expect(() => createRecoverer({ runner: createRunner(), sagas: [v1, v2, v1] })).not.toThrow();
  });
});
