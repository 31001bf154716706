/**
 * The demo's `lockstep --config` module: the saga definitions, stores and log of the marketplace in
 * `.lockstep-demo/` (or `LOCKSTEP_DEMO_DIR`), so the CLI can explain, diagnose and recover them.
 *
 *   npx lockstep explain --config examples/demo/lockstep.config.ts
 *   npx lockstep doctor --config examples/demo/lockstep.config.ts
 */
import { createRunner } from "lockstep";
import { bountySagas } from "lockstep/bounty";
import { createContributions } from "lockstep/contribution";
import { DEMO_DIR, openMarketplace } from "./world.js";

const market = openMarketplace(process.env.LOCKSTEP_DEMO_DIR ?? DEMO_DIR);
const runner = createRunner({ log: market.log });

export const sagas = [
  ...Object.values(bountySagas(market.bounty)),
  createContributions({ ports: market.contribution, runner }).saga,
];
export const stores = [market.bounty.bounties.store, market.bounty.credits.store];
export const log = market.log;
export const close = () => market.close();
