import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  classifyApiResponse,
  HttpApiError,
  httpApiStore,
} from "../../../src/adapters/http-api/index.js";
import {
  classifyError,
  defineStore,
  isProvablyNotApplied,
  LockstepDefinitionError,
} from "../../../src/index.js";
import { freePort } from "../../support/free-port.js";
import {
  type PaymentServer,
  type SkewedClock,
  skewedClock,
  startPaymentServer,
} from "./payment-server.js";

const WINDOW = 60_000;

async function failureOf(promise: Promise<unknown>): Promise<HttpApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpApiError);
  return error as HttpApiError;
}

describe("HTTP API store: classifying answers and failures", () => {
  let clock: SkewedClock;
  let server: PaymentServer;
  beforeEach(async () => {
    clock = skewedClock();
    server = await startPaymentServer({ windowMs: WINDOW, clock, keyHeader: "X-Request-Key" });
  });
  afterEach(() => server.close());

  const store = (extra: { serverErrors?: "transient" | "unknown"; timeoutMs?: number } = {}) =>
    httpApiStore({
      id: "payments",
      baseUrl: server.baseUrl,
      keyWindowMs: WINDOW,
      idempotencyHeader: "X-Request-Key",
      ...extra,
    });
  const charge = (s = store(), body: unknown = { amount: 5 }) =>
    s.handle.send({ path: "v1/charges", body, idempotencyKey: "k1" });

  it("sends the key in the configured header", async () => {
    await charge();
    expect(server.keysSent).toEqual(["k1"]);
  });

  it("a step's handle sends the step's key", async () => {
    const s = store();
    const controller = new AbortController();
    const handle = s.handleFor?.(
      { signal: controller.signal, deadline: Date.now() + 5_000 },
      { sagaId: "s1", step: "charge", key: "s1:charge", fencingToken: 1 },
    );
    await handle?.send({ path: "v1/charges", body: { amount: 1 } });
    expect(server.keysSent).toEqual(["s1:charge"]);
  });

  const cases: readonly [string, () => void, string, string | undefined][] = [
    [
      "409 in progress",
      () => server.fault({ type: "fail", status: 409 }),
      "transient",
      "in_progress",
    ],
    [
      "422 idempotency",
      () => server.fault({ type: "fail", status: 422, body: '{"error":"idempotency_error"}' }),
      "unknown",
      "mismatch",
    ],
    [
      "422 other",
      () => server.fault({ type: "fail", status: 422, body: '{"error":"card_declined"}' }),
      "not_committed",
      undefined,
    ],
    ["400", () => server.fault({ type: "fail", status: 400 }), "not_committed", undefined],
    ["429", () => server.fault({ type: "fail", status: 429 }), "transient", undefined],
    ["500", () => server.fault({ type: "fail", status: 500 }), "transient", undefined],
    ["lost response", () => server.fault({ type: "lose-response" }), "unknown", undefined],
  ];
  for (const [name, arrange, kind, conflict] of cases) {
    it(`classifies ${name} as ${kind}`, async () => {
      arrange();
      const error = await failureOf(charge());
      expect(error.kind).toBe(kind);
      expect(classifyError(error)).toBe(kind);
      expect(error.idempotencyConflict).toBe(conflict);
    });
  }
  it("ran every classification case", () => expect(cases).toHaveLength(7));

  it("a 5xx is unknown when the store says so", async () => {
    server.fault({ type: "fail", status: 502 });
    expect((await failureOf(charge(store({ serverErrors: "unknown" })))).kind).toBe("unknown");
  });

  it("connection refused is provably not applied (transient), walking fetch's cause", async () => {
    const port = await freePort();
    const s = httpApiStore({ id: "p", baseUrl: `http://127.0.0.1:${port}/`, keyWindowMs: WINDOW });
    const error = await failureOf(
      s.handle.send({ path: "v1/charges", body: {}, idempotencyKey: "k" }),
    );
    expect(error.kind).toBe("transient");
    expect(isProvablyNotApplied(error.kind)).toBe(true);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it("no answer within timeoutMs is timeout, not provably not applied: the charge was made", async () => {
    server.fault({ type: "hang" });
    const error = await failureOf(charge(store({ timeoutMs: 200 })));
    expect(error.kind).toBe("timeout");
    expect(classifyError(error)).toBe("timeout");
    expect(isProvablyNotApplied(error.kind)).toBe(false);
    expect(server.charges(), "the provider took the request before the deadline").toHaveLength(1);
  });

  it("a body JSON cannot hold is refused unsent, naming the value", async () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const body of [{ amount: 10n }, cycle]) {
      const error = await failureOf(charge(store(), body));
      expect(error.kind).toBe("not_committed");
      expect(error.message).toMatch(/cannot be sent as JSON \(`/);
    }
    expect(server.requests, "nothing was sent").toEqual([]);
  });

  it("a write without a key is refused unsent", async () => {
    const error = await failureOf(store().handle.send({ path: "v1/charges", body: {} }));
    expect(error.kind).toBe("not_committed");
    expect(server.requests).toEqual([]);
  });

  it("a 404 read is undefined, not an error", async () => {
    expect(await store().handle.get("v1/charges/by-key/nope")).toBeUndefined();
  });

  it("classifyApiResponse agrees with the table", () => {
    expect(classifyApiResponse(503, undefined, "transient").kind).toBe("transient");
    expect(classifyApiResponse(503, undefined, "unknown").kind).toBe("unknown");
    expect(classifyApiResponse(301, undefined, "transient").kind).toBe("not_committed");
  });
});

describe("HTTP API store: bad key windows", () => {
  const bad: readonly unknown[] = [
    0,
    Number.NaN,
    -1,
    1.5,
    "1d",
    undefined,
    Number.POSITIVE_INFINITY,
  ];
  for (const value of bad) {
    it(`refuses keyWindowMs ${String(value)}, naming it`, () => {
      expect(() =>
        httpApiStore({ id: "p", baseUrl: "http://127.0.0.1:1/", keyWindowMs: value as number }),
      ).toThrow(LockstepDefinitionError);
      expect(() =>
        httpApiStore({ id: "p", baseUrl: "http://127.0.0.1:1/", keyWindowMs: value as number }),
      ).toThrow(`got \`${typeof value === "string" ? JSON.stringify(value) : String(value)}\``);
    });
  }
  it("checked every bad value", () => expect(bad).toHaveLength(7));

  it("defineStore refuses a bad keyWindowMs too", () => {
    expect(() => defineStore({ id: "s", handle: {}, keyWindowMs: 0 })).toThrow(
      /`keyWindowMs` of store "s".*got `0` \(number\)/,
    );
  });
});
