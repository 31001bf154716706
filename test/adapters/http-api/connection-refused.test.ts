import { afterEach, describe, expect, it } from "vitest";
import type { FetchFunction } from "../../../src/adapters/http/index.js";
import { HttpApiError } from "../../../src/adapters/http-api/index.js";
import {
  type Clock,
  classifyError,
  createRunner,
  ErrorCode,
  ErrorKind,
  isProvablyNotApplied,
  MemorySagaLog,
  type SagaEvent,
  SagaStatus,
} from "../../../src/index.js";
import { freePort } from "../../support/free-port.js";
import { checkoutSaga, checkoutStores, WINDOW_MS } from "./checkout.js";
import { type PaymentServer, skewedClock, startPaymentServer } from "./payment-server.js";

const INPUT = { order: "o-1", amount: 500 };
const ATTEMPTS = 3;
const RETRY = { attempts: ATTEMPTS, initialDelayMs: 1, maxDelayMs: 2, jitter: 0 };

/**
 * A payment provider whose port nothing listens on. Connection refused happens before a byte of
 * the request is sent, so it is `transient`: provably not applied (the probe is never asked, the
 * step is never in doubt) and retried with the same key; once the attempts run out the step has
 * failed as not applied and the steps before it are compensated.
 */
describe("a payment step whose provider refuses the connection", () => {
  let server: PaymentServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** The store's own fetch, recording every request it was asked to send. */
  const recording = (sent: string[]): FetchFunction => {
    return (url, init) => {
      const headers = new Headers(init.headers);
      sent.push(`${init.method} ${url.pathname} key=${headers.get("Idempotency-Key")}`);
      return globalThis.fetch(url, init);
    };
  };

  it("is transient (provably not applied), never probed, retried with its key, then compensated: not in doubt, nothing charged", async () => {
    const port = await freePort();
    const sent: string[] = [];
    const world = checkoutStores(`http://127.0.0.1:${port}/`, { fetch: recording(sent) });
    const events: SagaEvent[] = [];
    const log = new MemorySagaLog();
    const result = await createRunner({ log, retry: RETRY, onEvent: (e) => events.push(e) }).run(
      checkoutSaga(world),
      INPUT,
      { sagaId: "s-refused" },
    );

    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    if (error.code !== ErrorCode.StepFailed) return;
    expect(error.step).toBe("charge");
    expect(error.kind).toBe(ErrorKind.Transient);
    expect(isProvablyNotApplied(error.kind)).toBe(true);
    expect(error.cause).toBeInstanceOf(HttpApiError);
    expect((error.cause as Error).message).toMatch(/ECONNREFUSED/);
    expect(classifyError(error.cause, world.payments.classifyError)).toBe(ErrorKind.Transient);
    expect(error.report.status).toBe(SagaStatus.Compensated);

    const charge = events.filter((e) => "step" in e && e.step === "charge");
    expect(
      charge.filter((e) => e.type === "step.probed"),
      "the probe never ran",
    ).toEqual([]);
    expect(
      charge.filter((e) => e.type === "step.unknown"),
      "never in doubt",
    ).toEqual([]);
    expect(
      charge.filter((e) => e.type === "step.not_committed").map((e) => "kind" in e && e.kind),
    ).toEqual(Array(ATTEMPTS).fill(ErrorKind.Transient));
    expect(sent, "only the charge was sent, once per attempt, always with the step's key").toEqual(
      Array(ATTEMPTS).fill("POST /v1/charges key=s-refused:charge"),
    );
    const snapshot = await log.load("s-refused");
    expect(snapshot?.record.status).toBe(SagaStatus.Compensated);
    expect(snapshot?.record.attention).toBeNull();
    expect(
      snapshot?.entries.filter((e) => e.step === "reserve").map((e) => e.type),
      "the stock hold was given back",
    ).toContain("compensated");
    expect(await world.stock.handle.get("hold:o-1")).toBeUndefined();
    expect(await world.stock.handle.get("order:o-1")).toBeUndefined();
  });

  it("refused, then the provider comes up on that port: the retry with the same key charges once, never probed", async () => {
    const port = await freePort();
    const sent: string[] = [];
    const world = checkoutStores(`http://127.0.0.1:${port}/`, { fetch: recording(sent) });
    // The provider starts listening on the refused port when the first retry is scheduled; the
    // retry's backoff waits until it does.
    let listening: Promise<PaymentServer> | undefined;
    const clock: Clock = {
      now: () => Date.now(),
      setTimer(callback, ms) {
        let handle: ReturnType<typeof setTimeout> | undefined;
        let cancelled = false;
        void (listening ?? Promise.resolve()).then(() => {
          if (!cancelled) handle = setTimeout(callback, ms);
        });
        return () => {
          cancelled = true;
          clearTimeout(handle);
        };
      },
    };
    const events: SagaEvent[] = [];
    const result = await createRunner({
      log: new MemorySagaLog(),
      clock,
      retry: RETRY,
      onEvent: (e) => {
        events.push(e);
        if (e.type === "step.retrying" && e.step === "charge" && listening === undefined) {
          listening = startPaymentServer({ windowMs: WINDOW_MS, clock: skewedClock(), port });
        }
      },
    }).run(checkoutSaga(world), INPUT, { sagaId: "s-late" });
    server = await listening;

    expect(result.isOk(), JSON.stringify(result)).toBe(true);
    expect(events.filter((e) => e.type === "step.probed")).toEqual([]);
    expect(sent).toEqual(Array(2).fill("POST /v1/charges key=s-late:charge"));
    expect(server?.keysSent).toEqual(["s-late:charge"]);
    expect(server?.charges()).toHaveLength(1);
  });
});
