import { describe, expect, it } from "vitest";
import { explain } from "../../src/index.js";
import { checkoutSaga, checkoutStores, WINDOW_MS } from "../adapters/http-api/checkout.js";

describe("explain: key windows", () => {
  const world = checkoutStores("http://127.0.0.1:1/");

  it("reports the key window of a step on an HTTP API store, and what happens after it", () => {
    const plan = explain(checkoutSaga(world));
    const charge = plan.steps.find((s) => s.name === "charge");
    expect(charge?.keyWindowMs).toBe(WINDOW_MS);
    const note = charge?.notes.find((n) => n.includes("remembers keys"));
    expect(note).toContain(`${WINDOW_MS} ms`);
    expect(note).toContain("its probe is asked first");
    expect(plan.steps.find((s) => s.name === "reserve")?.keyWindowMs).toBeUndefined();
  });

  it("says a step without a probe ends in doubt after the window", () => {
    const plan = explain(checkoutSaga(world, { retriableByKey: true }));
    const note = plan.steps.find((s) => s.name === "charge")?.notes.join(" ");
    expect(note).toContain("it has no probe, so it then ends in doubt");
  });
});
