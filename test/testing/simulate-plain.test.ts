import { describe, it } from "vitest";
import { PARTS_PER_TIER } from "./support/checkout.js";
import { simulateTierPart } from "./support/tier-simulation.js";

describe("the plain checkout keeps every invariant over seeded fault schedules with late landings", () => {
  for (let part = 1; part <= PARTS_PER_TIER; part++) {
    it(`part ${part} of ${PARTS_PER_TIER}`, async () => {
      await simulateTierPart("plain", part);
    });
  }
});
