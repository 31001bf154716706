import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  openShop,
  orderInvariants,
  orderSaga,
  type Shop,
  testOrder,
} from "../../examples/testing/order.js";
import {
  type CrashExplorationReport,
  exploreCrashPoints,
  NO_FAULTS,
  type SimulationReport,
  simulate,
} from "../../src/testing/index.js";
import { PG_URL } from "../adapters/postgres/pg-test.js";
import { REDIS_HOST, REDIS_PORT } from "../adapters/redis/redis-test-client.js";

const URLS = { postgres: PG_URL, redis: `redis://${REDIS_HOST}:${REDIS_PORT}` };

describe("the kit on real stores (Postgres and Redis)", () => {
  let shop: Awaited<ReturnType<typeof openShop>>;
  const scenario = () => ({
    setup: shop.reset,
    saga: orderSaga,
    input: { orderId: "o-1", qty: 3, price: 40 },
    invariants: orderInvariants,
    reads: ["get"],
    realIo: true,
  });
  beforeAll(async () => {
    shop = await openShop(URLS);
  });
  afterAll(async () => {
    await shop.close();
  });

  it("passes every schedule without faults: no deadline fires while Postgres or Redis answers", async () => {
    const result = await simulate<Shop, ReturnType<typeof orderSaga>>({
      ...scenario(),
      schedules: 12,
      faults: () => NO_FAULTS,
    });
    expect(result.isOk() ? [] : result.error.message.split("\n").slice(0, 4)).toEqual([]);
    expect(result._unsafeUnwrap().outcomes).toEqual({ completed: 12 });
    expect(result._unsafeUnwrap().ioStalls).toBe(0);
  });

  it("gives the same outcomes when the same fault schedules run twice", async () => {
    const once = async () => {
      const result = await simulate<Shop, ReturnType<typeof orderSaga>>({
        ...scenario(),
        schedules: 12,
        seed: 7,
      });
      return result.match(
        (r) => r,
        (e) => e.report,
      );
    };
    const summary = (r: SimulationReport) => ({
      faultKinds: r.faultKinds,
      faultsFired: r.faultsFired,
      crashed: r.crashed,
      outcomes: r.outcomes,
      ioStalls: r.ioStalls,
      violations: r.violations.map((v) => `${v.seed} ${v.invariant} ${v.message}`),
    });
    const first = summary(await once());
    const second = summary(await once());
    expect(second).toEqual(first);
    expect(first.violations).toEqual([]);
    expect(first.faultsFired).toBeGreaterThan(0);
    expect(first.ioStalls).toBe(0);
  });

  it("explores the same crash points with the same outcomes twice", async () => {
    const once = async () => {
      const result = await exploreCrashPoints<Shop, ReturnType<typeof orderSaga>>({
        ...scenario(),
        crashRecovery: false,
      });
      return result.match(
        (r) => r,
        (e) => e.report,
      );
    };
    const summary = (r: CrashExplorationReport) => ({
      boundaries: r.boundaries,
      reached: r.reached,
      outcomes: r.outcomes,
      unreached: r.unreached,
      ioStalls: r.ioStalls,
      violations: r.violations.map((v) => `${v.schedule.point} ${v.invariant} ${v.message}`),
    });
    const first = summary(await once());
    const second = summary(await once());
    expect(second).toEqual(first);
    expect(first.violations).toEqual([]);
    expect(first.unreached).toEqual([]);
    expect(first.reached).toBe(first.boundaries.length);
  });
});

describe("docs/testing.md walks through examples/testing/order.ts", () => {
  const doc = readFileSync(new URL("../../docs/testing.md", import.meta.url), "utf8");
  const example = readFileSync(new URL("../../examples/testing/order.ts", import.meta.url), "utf8");
  const regions = [...example.matchAll(/\/\/ docs: ([\w-]+)\n([\s\S]*?)\/\/ docs: end/g)];

  it("quotes every marked region of the example verbatim", () => {
    expect(regions.map((r) => r[1])).toEqual([
      "real-stores-setup",
      "real-stores-saga",
      "real-stores-invariants",
      "real-stores-run",
    ]);
    for (const [, name, code] of regions) {
      expect(doc.includes((code ?? "").trim()), `docs/testing.md does not quote ${name}`).toBe(
        true,
      );
    }
  });

  it("runs the walk-through: every crash point and 20 fault schedules of the order", {
    timeout: 120_000,
  }, async () => {
    const { crashes, simulation } = await testOrder(URLS);
    console.log(
      `real stores: ${crashes.points} crash points (${crashes.recoveryPoints} in recovery), ${simulation.schedules} schedules with ${simulation.faultsFired} faults, outcomes ${JSON.stringify(simulation.outcomes)}`,
    );
    expect(crashes.boundaries.filter((b) => !b.includes(" log."))).toEqual(
      ["stock.transaction", "credits.handle.batch", "stock.handle.query"].flatMap((s) => [
        `before ${s}`,
        `after ${s}`,
      ]),
    );
    expect(crashes.reached).toBe(crashes.points);
    expect(crashes.runs).toBe(1 + crashes.points);
    expect(crashes.violations).toEqual([]);
    expect(crashes.ioStalls).toBe(0);
    expect(simulation.schedules).toBe(20);
    expect(simulation.violations).toEqual([]);
    expect(simulation.ioStalls).toBe(0);
    expect(simulation.outcomes.completed ?? 0).toBeGreaterThan(0);
  });
});
