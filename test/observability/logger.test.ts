import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createRunner, type Logger } from "../../src/index.js";
import { orderWorld } from "./support/order-world.js";

/** A real pino logger writing its JSON lines into an array. */
function pinoInto(lines: Record<string, unknown>[]) {
  return pino(
    { level: "debug", base: null, timestamp: false },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
}

describe("the Logger interface", () => {
  it("is satisfied by a real pino logger, with no adapter", () => {
    const logger = pinoInto([]);
    // Compile-time proof: pino's overloaded methods take fields first, as Logger does.
    const asLogger: Logger = logger;
    expect(typeof asLogger.debug).toBe("function");
  });

  it("receives the runner's diagnostics through pino, fields first", async () => {
    const lines: Record<string, unknown>[] = [];
    const world = orderWorld();
    const runner = createRunner({
      logger: pinoInto(lines),
      onEvent: () => {
        throw new Error("listener exploded");
      },
    });
    const result = await runner.run(world.saga, { id: "o-1" });
    const sagaId = result._unsafeUnwrap().sagaId;
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).toMatchObject({
        level: 50,
        sagaId,
        error: "listener exploded",
        msg: "lockstep: an event listener threw",
      });
    }
  });

  it("gets a probe's failure as a warning naming the saga and the step", async () => {
    const lines: Record<string, unknown>[] = [];
    const world = orderWorld();
    world.switches.chargeLost = true;
    world.switches.chargeProbeThrows = true;
    const runner = createRunner({ logger: pinoInto(lines) });
    const result = await runner.run(world.saga, { id: "o-2" });
    expect(result._unsafeUnwrapErr().code).toBe("in_doubt");
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      step: "charge",
      error: "payments API unreachable",
      msg: "lockstep: a probe failed; the step stays in doubt",
    });
  });
});
