import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sqliteSagaLog } from "../../../src/adapters/sqlite/index.js";
import {
  AttentionReason,
  createRecoverer,
  createRunner,
  ErrorCode,
  SagaStatus,
} from "../../../src/index.js";
import type { SagaLog } from "../../../src/log/saga-log.js";
import { type TempDatabase, tempDatabase } from "../sqlite/temp-database.js";
import { type Checkout, checkoutSaga, checkoutStores, WINDOW_MS } from "./checkout.js";
import {
  type PaymentServer,
  type SkewedClock,
  skewedClock,
  startPaymentServer,
} from "./payment-server.js";

const INPUT = { order: "o-1", amount: 500 };
const RETRY = { attempts: 3, initialDelayMs: 1, maxDelayMs: 2, jitter: 0 };

describe("a payment step on an HTTP API with a key window", () => {
  let clock: SkewedClock;
  let server: PaymentServer;
  let world: Checkout;
  let temp: TempDatabase;
  let log: SagaLog;

  beforeEach(async () => {
    clock = skewedClock();
    server = await startPaymentServer({ windowMs: WINDOW_MS, clock });
    world = checkoutStores(server.baseUrl);
    temp = tempDatabase();
    log = sqliteSagaLog(temp.db);
  });
  afterEach(async () => {
    await server.close();
    temp.remove();
  });

  const runner = () => createRunner({ log, clock, retry: RETRY, owner: "runner-a" });
  const posts = () => server.requests.filter((r) => r === "POST /v1/charges").length;

  it("charges once and sends the step key as Idempotency-Key", async () => {
    const result = await runner().run(checkoutSaga(world), INPUT, { sagaId: "s-plain" });
    expect(result.isOk(), JSON.stringify(result)).toBe(true);
    expect(server.charges()).toHaveLength(1);
    expect(server.keysSent).toEqual(["s-plain:charge"]);
  });

  it("inside the window: a lost response is found by key; one charge", async () => {
    server.fault({ type: "lose-response" });
    const result = await runner().run(checkoutSaga(world), INPUT, { sagaId: "s-lost" });
    expect(result.isOk(), JSON.stringify(result)).toBe(true);
    const step = result._unsafeUnwrap().steps.find((s) => s.name === "charge");
    expect(step?.committedVia, "the probe found the lost charge by key").toBe("probe");
    expect(server.charges()).toHaveLength(1);
    expect(posts()).toBe(1);
  });

  it("inside the window: a 5xx is retried with the same key; one charge", async () => {
    server.fault({ type: "fail", status: 503 });
    const result = await runner().run(checkoutSaga(world), INPUT, { sagaId: "s-503" });
    expect(result.isOk(), JSON.stringify(result)).toBe(true);
    expect(server.keysSent).toEqual(["s-503:charge", "s-503:charge"]);
    expect(server.charges()).toHaveLength(1);
  });

  it("after the window: recovery from the log asks the query probe, never charges again", async () => {
    // The response is lost and the key lookup is down, so the run parks the saga in doubt.
    server.fault({ type: "lose-response" });
    server.failLookups(1);
    const first = await runner().run(checkoutSaga(world), INPUT, { sagaId: "s-query" });
    expect(first._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    // The provider forgets the key; a new runner rebuilds the key's first send from the log.
    clock.advance(WINDOW_MS + 1);
    const recoverer = createRecoverer({
      runner: createRunner({ log, clock, retry: RETRY, owner: "runner-b" }),
      sagas: [checkoutSaga(world)],
    });
    await recoverer.recover();
    const snapshot = await log.load("s-query");
    expect(snapshot?.record.status).toBe(SagaStatus.Completed);
    expect(posts(), "the forgotten key was never sent again").toBe(1);
    expect(server.charges()).toHaveLength(1);
    expect(server.requests).toContain("GET /v1/charges/search");
  });

  it("after the window without a query probe: in doubt with reason idempotency_window_expired, never a second charge", async () => {
    server.fault({ type: "lose-response" });
    server.failLookups(1);
    await runner().run(checkoutSaga(world, { byQuery: false }), INPUT, { sagaId: "s-doubt" });
    clock.advance(WINDOW_MS + 1);
    const recoverer = createRecoverer({
      runner: createRunner({ log, clock, retry: RETRY, owner: "runner-b" }),
      sagas: [checkoutSaga(world, { byQuery: false })],
    });
    for (let pass = 0; pass < 2; pass++) {
      clock.advance(60 * 60_000);
      await recoverer.recover();
    }
    const snapshot = await log.load("s-doubt");
    expect(snapshot?.record.status).toBe(SagaStatus.InDoubt);
    expect(snapshot?.record.attention?.reason).toBe(AttentionReason.IdempotencyWindowExpired);
    expect(snapshot?.record.attention?.message).toMatch(/idempotency window expired/);
    expect(posts(), "the forgotten key was never sent again").toBe(1);
    expect(server.charges()).toHaveLength(1);
  });

  it("a retriable step re-run by its key is not re-run once the window has passed: in doubt, one charge", async () => {
    server.fault({ type: "lose-response", thenAdvanceMs: WINDOW_MS + 1 });
    const result = await runner().run(checkoutSaga(world, { retriableByKey: true }), INPUT, {
      sagaId: "s-rerun",
    });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InDoubt);
    expect(error.code === ErrorCode.InDoubt && error.reason).toBe(
      AttentionReason.IdempotencyWindowExpired,
    );
    expect(posts()).toBe(1);
    expect(server.charges()).toHaveLength(1);
  });

  it("inside the window the same retriable step is re-run by its key, and the provider dedupes it", async () => {
    server.fault({ type: "lose-response" });
    const result = await runner().run(checkoutSaga(world, { retriableByKey: true }), INPUT, {
      sagaId: "s-rerun-ok",
    });
    expect(result.isOk(), JSON.stringify(result)).toBe(true);
    expect(posts(), "re-sent with the same key").toBe(2);
    expect(server.charges(), "deduplicated by the provider").toHaveLength(1);
  });

  it("the provider really forgets: the same key sent after the window charges twice (what the guard prevents)", async () => {
    const send = () =>
      world.payments.handle.send({
        path: "v1/charges",
        body: { amount: 1 },
        idempotencyKey: "k-raw",
      });
    await send();
    await send();
    expect(server.charges()).toHaveLength(1);
    clock.advance(WINDOW_MS);
    await send();
    expect(server.charges()).toHaveLength(2);
  });

  it("after the window a 5xx is retried only once the query probe proves nothing was charged", async () => {
    server.fault({ type: "fail", status: 503 });
    // The first answer is a 503; time passes beyond the window before the retry.
    const saga = checkoutSaga(world);
    const events: string[] = [];
    const result = await createRunner({
      log,
      clock,
      retry: RETRY,
      onEvent: (event) => {
        if (event.type === "step.retrying") clock.advance(WINDOW_MS + 1);
        if ("step" in event && event.step === "charge") events.push(event.type);
      },
    }).run(saga, INPUT, { sagaId: "s-503-late" });
    expect(result.isOk(), JSON.stringify(result)).toBe(true);
    expect(events).toContain("step.probed");
    expect(server.requests).toContain("GET /v1/charges/search");
    expect(server.charges()).toHaveLength(1);
  });

  it("records the key's first send in the log: the step's first intent", async () => {
    const before = clock.now();
    await runner().run(checkoutSaga(world), INPUT, { sagaId: "s-dated" });
    const entries = (await log.load("s-dated"))?.entries ?? [];
    const intents = entries.filter((e) => e.step === "charge" && e.type === "intent");
    expect(intents, "a step with a key window writes its intent before sending").toHaveLength(1);
    expect(intents[0]?.at).toBeGreaterThanOrEqual(before);
  });
});
