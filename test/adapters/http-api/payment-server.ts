import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A charge as the provider keeps it. */
export interface Charge {
  readonly id: string;
  readonly amount: number;
  readonly metadata: Readonly<Record<string, string>>;
}

/** What the next matching POST gets. */
export type PaymentFault =
  /** Creates the charge, then destroys the socket: the client never hears. */
  | { readonly type: "lose-response"; readonly thenAdvanceMs?: number }
  /** Answers `status` without creating anything. */
  | { readonly type: "fail"; readonly status: number; readonly body?: string }
  /** Creates the charge and never answers: the client's deadline passes first. */
  | { readonly type: "hang" };

/**
 * A payment provider on a real loopback HTTP server, Stripe-shaped: `POST v1/charges` creates a
 * charge and remembers its `Idempotency-Key` (or `keyHeader`) for `windowMs` on `clock`; a repeat
 * of a remembered key gets the first answer (or `422 idempotency_error` with another body); a key
 * the provider has forgotten creates a new charge. `GET v1/charges/by-key/<key>` finds a charge by
 * a remembered key; `GET v1/charges/search?metadata_key=<value>` finds charges by
 * `metadata.lockstep_key`, for as long as the charge exists.
 */
export interface PaymentServer {
  readonly baseUrl: string;
  /** Every charge made, in order. */
  charges(): readonly Charge[];
  /** Every request, as `"METHOD path"`. */
  readonly requests: readonly string[];
  /** The key header of every POST, in order (`undefined` when absent). */
  readonly keysSent: readonly (string | undefined)[];
  /** Installs a fault for the next `times` POSTs. */
  fault(fault: PaymentFault, times?: number): void;
  /** Makes the next `times` key lookups answer 503. */
  failLookups(times: number): void;
  close(): Promise<void>;
}

/** A clock both the runner and the server read, moved forward by tests without waiting. */
export interface SkewedClock {
  now(): number;
  setTimer(callback: () => void, ms: number): () => void;
  advance(ms: number): void;
}

/** The real clock, plus an offset tests move forward. */
export function skewedClock(): SkewedClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    setTimer(callback, ms) {
      const handle = setTimeout(callback, ms);
      return () => clearTimeout(handle);
    },
    advance(ms) {
      offset += ms;
    },
  };
}

export async function startPaymentServer(options: {
  readonly windowMs: number;
  readonly clock: SkewedClock;
  readonly keyHeader?: string;
  /** The loopback port to listen on. @default a free one */
  readonly port?: number;
}): Promise<PaymentServer> {
  const header = (options.keyHeader ?? "Idempotency-Key").toLowerCase();
  const charges: Charge[] = [];
  const remembered = new Map<string, { at: number; body: string; answer: string }>();
  const requests: string[] = [];
  const keysSent: (string | undefined)[] = [];
  const faults: PaymentFault[] = [];
  let lookupFailures = 0;
  const live = (key: string) => {
    const entry = remembered.get(key);
    if (entry === undefined) return undefined;
    if (options.clock.now() - entry.at >= options.windowMs) {
      remembered.delete(key);
      return undefined;
    }
    return entry;
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push(`${req.method} ${url.pathname}`);
    if (req.method === "POST" && url.pathname === "/v1/charges") {
      const rawKey = req.headers[header];
      const key = typeof rawKey === "string" ? rawKey : undefined;
      keysSent.push(key);
      if (key === undefined) return send(res, 400, { error: "idempotency key required" });
      const fault = faults.shift();
      if (fault?.type === "fail") return send(res, fault.status, fault.body ?? { error: "fault" });
      const seen = live(key);
      if (seen !== undefined) {
        if (seen.body !== body) return send(res, 422, { error: "idempotency_error" });
        return send(res, 200, seen.answer);
      }
      const parsed = JSON.parse(body) as { amount: number; metadata?: Record<string, string> };
      const charge: Charge = {
        id: `ch_${charges.length + 1}`,
        amount: parsed.amount,
        metadata: parsed.metadata ?? {},
      };
      charges.push(charge);
      const answer = JSON.stringify(charge);
      remembered.set(key, { at: options.clock.now(), body, answer });
      if (fault?.type === "hang") return;
      if (fault?.type === "lose-response") {
        if (fault.thenAdvanceMs !== undefined) options.clock.advance(fault.thenAdvanceMs);
        res.socket?.destroy();
        return;
      }
      return send(res, 200, answer);
    }
    if (req.method === "GET" && url.pathname.startsWith("/v1/charges/by-key/")) {
      if (lookupFailures > 0) {
        lookupFailures--;
        return send(res, 503, { error: "lookup unavailable" });
      }
      const key = decodeURIComponent(url.pathname.slice("/v1/charges/by-key/".length));
      const seen = live(key);
      return seen === undefined
        ? send(res, 404, { error: "no such key" })
        : send(res, 200, seen.answer);
    }
    if (req.method === "GET" && url.pathname === "/v1/charges/search") {
      const value = url.searchParams.get("metadata_key");
      return send(res, 200, { data: charges.filter((c) => c.metadata.lockstep_key === value) });
    }
    return send(res, 404, { error: "not found" });
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/`,
    charges: () => [...charges],
    requests,
    keysSent,
    fault(fault, times = 1) {
      for (let i = 0; i < times; i++) faults.push(fault);
    },
    failLookups(times) {
      lookupFailures = times;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
