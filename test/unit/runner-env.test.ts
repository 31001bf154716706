import { describe, expect, it } from "vitest";
import {
  createRecoverer,
  createRunner,
  LockstepDefinitionError,
  type Runner,
} from "../../src/index.js";

describe("a runner's environment", () => {
  it("is no public member of the runner", () => {
    const runner = createRunner();
    expect(Object.keys(runner).sort()).toEqual(["log", "owner", "run"]);
    expect("env" in runner).toBe(false);
    expect(Object.isFrozen(runner)).toBe(true);
  });

  it("reaches the recoverer, which refuses anything createRunner did not make", () => {
    expect(() => createRecoverer({ runner: createRunner(), sagas: [] })).not.toThrow();
    const fake = { owner: "x", log: createRunner().log, run: () => undefined } as unknown as Runner;
    expect(() => createRecoverer({ runner: fake, sagas: [] })).toThrow(LockstepDefinitionError);
    expect(() => createRecoverer({ runner: fake, sagas: [] })).toThrow(
      /Expected `runner` to be a runner made by createRunner/,
    );
  });
});
