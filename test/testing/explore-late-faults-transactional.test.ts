import { describe, it } from "vitest";
import { exploreLateCheckout } from "./support/late-exploration.js";

const NAME =
  "every store call of the dry run is made late and slow to commit in turn, then crashed from that call on, and every invariant holds";

describe.each(["transactional"] as const)("late calls in the %s checkout", (tier) => {
  it(NAME, async () => {
    await exploreLateCheckout(tier);
  });
});
