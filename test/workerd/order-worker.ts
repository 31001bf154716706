/**
 * A Worker that runs a saga over two D1 databases with lockstep's ESM build: it debits a ledger
 * (LEDGER), places an order in the database the saga log lives in (DB, batch co-committed) and
 * confirms the ledger entry. `POST /run?id=…&crash=<step>` stops the run when that step starts, as
 * a request that dies mid-saga does; `POST /recover` runs a recovery pass, on a clock ten minutes
 * ahead so the dead run's lease has lapsed; `GET /state?id=…` reads the two databases.
 */
import {
  committed,
  compensated,
  createRecoverer,
  createRunner,
  defineSaga,
  notCommitted,
  systemClock,
} from "lockstep";
import { type D1DatabaseLike, d1SagaLog, d1Store } from "lockstep/d1";
import { z } from "zod";

interface Env {
  readonly DB: D1DatabaseLike;
  readonly LEDGER: D1DatabaseLike;
}

function world(env: Env, crash: string | null, crashed: () => void) {
  const orders = d1Store(env.DB, { id: "orders-d1" });
  const ledger = d1Store(env.LEDGER, { id: "ledger-d1" });
  const log = d1SagaLog(env.DB, { store: orders });
  const stopHere = async (step: string) => {
    if (crash !== step) return;
    crashed();
    // The request is gone: nothing after this point ever runs.
    await new Promise(() => {});
  };
  const saga = defineSaga("worker-order", {
    input: z.object({ id: z.string(), amount: z.number() }),
  })
    .step("debit", {
      store: ledger,
      kind: "compensatable",
      output: z.object({ entry: z.string() }),
      execute: async ({ input, handle }) => {
        await stopHere("debit");
        await handle.run("INSERT INTO entries (id, amount, state) VALUES (?, ?, 'held')", [
          input.id,
          -input.amount,
        ]);
        return { entry: input.id };
      },
      probe: async ({ input, handle }) =>
        (await handle.first("SELECT id FROM entries WHERE id = ?", [input.id]))
          ? committed({ entry: input.id })
          : notCommitted(),
      compensate: async ({ output, handle }) => {
        await handle.run("UPDATE entries SET state = 'refunded' WHERE id = ? AND state = 'held'", [
          output.entry,
        ]);
        return compensated();
      },
    })
    .step("place", {
      store: orders,
      kind: "pivot",
      output: z.object({ order: z.string() }),
      execute: async ({ input, handle }) => {
        await stopHere("place");
        // Queued into the batch that also carries the step's log records and fencing check.
        void handle.run("INSERT INTO orders (id, amount) VALUES (?, ?)", [input.id, input.amount]);
        return { order: input.id };
      },
      probe: async ({ input, handle }) =>
        (await handle.first("SELECT id FROM orders WHERE id = ?", [input.id]))
          ? committed({ order: input.id })
          : notCommitted(),
    })
    .step("confirm", {
      store: ledger,
      kind: "retriable",
      output: z.object({ confirmed: z.boolean() }),
      execute: async ({ input, handle }) => {
        await stopHere("confirm");
        await handle.run("UPDATE entries SET state = 'confirmed' WHERE id = ?", [input.id]);
        return { confirmed: true };
      },
      probe: async ({ input, handle }) => {
        const row = await handle.first<{ state: string }>(
          "SELECT state FROM entries WHERE id = ?",
          [input.id],
        );
        return row?.state === "confirmed" ? committed({ confirmed: true }) : notCommitted();
      },
    })
    .build();
  return { orders, ledger, log, saga };
}

async function createTables(env: Env): Promise<void> {
  await env.DB.batch([
    env.DB.prepare(
      "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, amount INTEGER NOT NULL)",
    ),
  ]);
  await env.LEDGER.batch([
    env.LEDGER.prepare(
      "CREATE TABLE IF NOT EXISTS entries (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, state TEXT NOT NULL)",
    ),
  ]);
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    await createTables(env);
    if (url.pathname === "/run") {
      const id = url.searchParams.get("id") ?? "o-1";
      let crashed: () => void = () => {};
      const crash = new Promise<"crashed">((resolve) => {
        crashed = () => resolve("crashed");
      });
      const { log, saga } = world(env, url.searchParams.get("crash"), crashed);
      const runner = createRunner({ log, owner: "worker-run", leaseTtlMs: 30_000 });
      const run = runner.run(saga, { id, amount: 30 }, { sagaId: `saga-${id}` });
      const outcome = await Promise.race([run, crash]);
      if (outcome === "crashed") return Response.json({ crashed: true }, { status: 500 });
      return Response.json(
        outcome.isOk() ? { status: outcome.value.status } : { error: outcome.error.code },
      );
    }
    if (url.pathname === "/recover") {
      const { log, saga } = world(env, null, () => {});
      const runner = createRunner({
        log,
        owner: "worker-recoverer",
        clock: { now: () => Date.now() + 600_000, setTimer: systemClock.setTimer },
      });
      const report = await createRecoverer({ runner, sagas: [saga] }).recover();
      if (report.isErr()) return Response.json({ error: report.error.code }, { status: 500 });
      return Response.json({
        claimed: report.value.claimed,
        sagas: report.value.sagas.map((s) => ({ sagaId: s.sagaId, outcome: s.outcome })),
      });
    }
    if (url.pathname === "/state") {
      const id = url.searchParams.get("id") ?? "o-1";
      const { log } = world(env, null, () => {});
      const order = await env.DB.prepare("SELECT id FROM orders WHERE id = ?").bind(id).all();
      const entry = await env.LEDGER.prepare("SELECT state FROM entries WHERE id = ?")
        .bind(id)
        .all();
      const snapshot = await log.load(`saga-${id}`);
      return Response.json({
        order: order.results?.length ?? 0,
        entry: (entry.results?.[0] as { state?: string } | undefined)?.state ?? null,
        status: snapshot?.record.status ?? null,
        steps: snapshot?.entries.map((e) => `${e.step}:${e.type}${e.via ? `:${e.via}` : ""}`) ?? [],
      });
    }
    return new Response("not found", { status: 404 });
  },
};
