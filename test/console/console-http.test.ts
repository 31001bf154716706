import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleHandler } from "../../src/console/console-handler.js";
import { MemorySagaLog, SagaStatus } from "../../src/index.js";
import { workerStatus } from "../conformance/operations-log.js";
import { sagaRecord } from "../conformance/saga-log.js";
import { postForm, startSeededConsole, TOKEN } from "./support/console-server.js";
import { HOSTILE_INPUT, SEEDED_STATUSES } from "./support/seed-console-log.js";

let consoleUp: Awaited<ReturnType<typeof startSeededConsole>>;
let readOnly: Awaited<ReturnType<typeof startSeededConsole>>;

beforeAll(async () => {
  consoleUp = await startSeededConsole({ pageSize: 4 });
  readOnly = await startSeededConsole({ withoutToken: true });
});
afterAll(async () => {
  await consoleUp?.stop();
  await readOnly?.stop();
});

const get = (path: string, base = consoleUp.base) =>
  fetch(`${base}${path}`, { redirect: "manual" });
const sagaIdsOf = (html: string) =>
  [...html.matchAll(/<a href="\/sagas\/([0-9A-Z]+)">/g)].map((m) => m[1] as string);

/** The whole saga as the log holds it, to show that a refused request changed nothing. */
const state = async (sagaId: string) => JSON.stringify(await consoleUp.seed.log.load(sagaId));

describe("console pages", () => {
  it("pages through every saga newest first by keyset links, each saga once", async () => {
    const total = Object.values(SEEDED_STATUSES).reduce((a, b) => a + b, 0);
    const seen: string[] = [];
    let path: string | undefined = "/sagas";
    let pages = 0;
    while (path !== undefined && pages < 10) {
      const response = await get(path);
      expect(response.status).toBe(200);
      const html = await response.text();
      seen.push(...sagaIdsOf(html));
      pages++;
      path = /data-testid="next-page" href="([^"]+)"/.exec(html)?.[1]?.replaceAll("&amp;", "&");
    }
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(pages).toBe(Math.ceil(total / 4));
    const all = (await consoleUp.seed.log.list()).map((r) => r.sagaId);
    expect(seen).toEqual(all);
  });

  it("filters by status, attention reason and name", async () => {
    const statuses = Object.entries(SEEDED_STATUSES);
    for (const [status, count] of statuses) {
      const html = await (
        await fetch(`${consoleUp.base}/sagas?status=${status}&order=updated`)
      ).text();
      const rows = html.match(/<tr data-status="([a-z_]+)"/g) ?? [];
      expect(rows.length, `rows of status ${status}`).toBe(Math.min(count, 4));
      expect(rows.every((r) => r.includes(`"${status}"`))).toBe(true);
    }
    expect(statuses).toHaveLength(7);
    const guard = await (await get("/sagas?reason=guard_failed")).text();
    expect(sagaIdsOf(guard)).toEqual([consoleUp.seed.ids.guardFailed]);
    const none = await (await get("/sagas?name=nothing-by-this-name")).text();
    expect(none).toContain("No sagas match.");
  });

  it("shows a saga's input as text, never as markup", async () => {
    const html = await (await get(`/sagas/${consoleUp.seed.ids.guardFailed}`)).text();
    expect(html).not.toContain("<script");
    expect(html).toContain("&lt;script&gt;window.__pwned = true;");
    expect(HOSTILE_INPUT.startsWith("<script>")).toBe(true);
  });

  it("serves the timeline as SVG, and diagnoses on demand", async () => {
    const svg = await get(`/sagas/${consoleUp.seed.ids.takenOver}/timeline.svg`);
    expect(svg.headers.get("content-type")).toBe("image/svg+xml; charset=utf-8");
    expect((await svg.text()).match(/data-kind="takeover"/g)).toHaveLength(1);
    const plain = await (await get(`/sagas/${consoleUp.seed.ids.inDoubt}`)).text();
    expect(plain).not.toContain('data-testid="diagnosis"');
    const diagnosed = await (await get(`/sagas/${consoleUp.seed.ids.inDoubt}?diagnose=1`)).text();
    expect(diagnosed).toContain('data-testid="diagnosis"');
    expect(diagnosed).toContain("What recovery will do:");
  });

  it("groups the needs_attention queue by reason with the way out, and says no worker reports", async () => {
    const queue = await (await get("/attention")).text();
    expect(queue.match(/<section data-reason="/g)).toHaveLength(2);
    expect(queue).toContain('data-reason="guard_failed"');
    expect(queue).toContain('data-reason="escalated"');
    expect(queue).toContain("Way out:");
    const workers = await (await get("/workers")).text();
    expect(workers).toContain("No worker reports");
    // The seed's live lease is held by the runner that "died" with a live lease.
    expect(workers).toMatch(/<td>runner-that-died<\/td><td>1<\/td>/);
  });
});

describe("console bad input: a clear message, the right status, nothing changed", () => {
  const cases: [string, () => Promise<Response>, number, string][] = [
    [
      "a saga id that does not exist",
      () => get("/sagas/01NOSUCHSAGA"),
      404,
      'No saga with id "01NOSUCHSAGA"',
    ],
    ["a page that does not exist", () => get("/nope"), 404, 'no page at "/nope"'],
    [
      "an unknown status filter",
      () => get("/sagas?status=lost"),
      400,
      "Expected `status` to be one of",
    ],
    ["an unknown attention reason", () => get("/sagas?reason=bored"), 400, '"bored"'],
    ["a malformed time", () => get("/sagas?since=yesterday"), 400, "Expected `since` to be a time"],
    ["half a cursor", () => get("/sagas?before_time=5"), 400, "given together"],
    [
      "a malformed cursor",
      () => get("/sagas?before_time=x&before_id=y"),
      400,
      "Expected `before_time`",
    ],
    ["a POST to a page", () => postForm(`${consoleUp.base}/sagas`, {}), 405, "only answers GET"],
    [
      "an unknown action",
      () => postForm(`${consoleUp.base}/actions/delete`, { token: TOKEN }),
      404,
      "no page",
    ],
  ];

  for (const [what, request, status, message] of cases) {
    it(`answers ${status} to ${what}`, async () => {
      const response = await request();
      expect(response.status).toBe(status);
      expect(await response.text()).toContain(message.replaceAll('"', "&quot;"));
    });
  }

  it("ran every case", () => {
    expect(cases).toHaveLength(9);
  });

  it("refuses every action when started without a token (403), and changes nothing", async () => {
    const sagaId = readOnly.seed.ids.guardFailed;
    const before = JSON.stringify(await readOnly.seed.log.load(sagaId));
    const confirm = await get(`/actions/retry?saga=${sagaId}`, readOnly.base);
    expect(confirm.status).toBe(403);
    const post = await postForm(`${readOnly.base}/actions/retry`, {
      saga: sagaId,
      confirm: "yes",
      token: "anything-at-all",
    });
    expect(post.status).toBe(403);
    expect(await post.text()).toContain("Actions are off");
    expect(JSON.stringify(await readOnly.seed.log.load(sagaId))).toBe(before);
  });

  it("refuses a tampered action: no token, a wrong one, one of another length, unconfirmed, not a form", async () => {
    const sagaId = consoleUp.seed.ids.guardFailed;
    const before = await state(sagaId);
    const url = `${consoleUp.base}/actions/retry`;
    const attempts: [Promise<Response>, number, string][] = [
      [postForm(url, { saga: sagaId, confirm: "yes" }), 403, "needs the console&#39;s token"],
      [
        postForm(url, { saga: sagaId, confirm: "yes", token: `${TOKEN.slice(0, -1)}X` }),
        403,
        "does not match",
      ],
      [postForm(url, { saga: sagaId, confirm: "yes", token: "short" }), 403, "does not match"],
      [
        postForm(url, { saga: sagaId, confirm: "yes" }, { "x-lockstep-token": "wrong-token-here" }),
        403,
        "does not match",
      ],
      [postForm(url, { saga: sagaId, token: TOKEN }), 400, "not confirmed"],
      [
        fetch(url, {
          method: "POST",
          body: JSON.stringify({ saga: sagaId, token: TOKEN, confirm: "yes" }),
          headers: { "content-type": "application/json" },
        }),
        400,
        "application/x-www-form-urlencoded",
      ],
      [
        postForm(`${consoleUp.base}/actions/prune`, {
          token: TOKEN,
          confirm: "yes",
          older_than_days: "0",
          status: "running",
        }),
        400,
        "Expected `status` to be one of",
      ],
    ];
    for (const [response, status, message] of attempts) {
      const r = await response;
      expect(r.status).toBe(status);
      expect(await r.text()).toContain(message);
    }
    expect(attempts).toHaveLength(7);
    expect(await state(sagaId)).toBe(before);
  });

  it("refuses (409) to act on a saga whose lease a runner holds, naming the holder", async () => {
    const sagaId = consoleUp.seed.ids.leased;
    const before = await state(sagaId);
    const r = await postForm(`${consoleUp.base}/actions/recover`, {
      saga: sagaId,
      confirm: "yes",
      token: TOKEN,
    });
    expect(r.status).toBe(409);
    expect(await r.text()).toContain("is leased to &quot;runner-that-died&quot;");
    expect(await state(sagaId)).toBe(before);
  });

  it("refuses (409) recovery of a finished saga and retry of one that does not need attention", async () => {
    const done = consoleUp.seed.ids.completed;
    const before = await state(done);
    const recover = await postForm(`${consoleUp.base}/actions/recover`, {
      saga: done,
      confirm: "yes",
      token: TOKEN,
    });
    expect(recover.status).toBe(409);
    const retry = await postForm(`${consoleUp.base}/actions/retry`, {
      saga: done,
      confirm: "yes",
      token: TOKEN,
    });
    expect(retry.status).toBe(409);
    expect(await retry.text()).toContain("not needs_attention");
    const missing = await postForm(`${consoleUp.base}/actions/retry`, {
      saga: "01MISSING",
      confirm: "yes",
      token: TOKEN,
    });
    expect(missing.status).toBe(404);
    expect(await state(done)).toBe(before);
  });

  it("writes nothing on GET: the confirmation pages change no saga", async () => {
    const ids = Object.values(consoleUp.seed.ids);
    const before = await Promise.all(ids.map(state));
    for (const id of ids) {
      for (const action of ["recover", "retry"]) {
        expect((await get(`/actions/${action}?saga=${id}`)).status).toBe(200);
      }
    }
    expect((await get("/actions/prune")).status).toBe(200);
    expect(await Promise.all(ids.map(state))).toEqual(before);
  });
});

describe("console actions with the token", () => {
  it("runs recovery for one saga and records who asked, under the token that recovered it", async () => {
    const sagaId = consoleUp.seed.ids.crashed;
    const r = await postForm(`${consoleUp.base}/actions/recover`, {
      saga: sagaId,
      confirm: "yes",
      token: TOKEN,
      actor: "alice",
      note: "after the outage",
    });
    expect(r.status, await r.clone().text()).toBe(200);
    expect(await r.text()).toContain('data-testid="outcome">compensated<');
    const snapshot = await consoleUp.seed.log.load(sagaId);
    const notes = snapshot?.entries.filter((e) => e.type === "operator") ?? [];
    expect(notes.map((e) => [e.operator, e.token])).toEqual([
      [{ actor: "alice", action: "recover", note: "after the outage" }, 2],
    ]);
    expect(snapshot?.record.status).toBe("compensated");
  });

  it("prunes finished sagas when asked, and only those, leaving one whose lease is held, and records who did", async () => {
    const log = consoleUp.seed.log;
    const cut = Date.now();
    // A saga that has ended but whose runner still holds its lease: the prune leaves it.
    const finishing = sagaRecord("01FINISHING", {
      status: SagaStatus.Completed,
      createdAt: cut - 60_000,
      updatedAt: cut - 60_000,
      leaseOwner: "runner-finishing",
      leaseExpiresAt: cut + 600_000,
    });
    await log.create(finishing);
    const old = (await log.list({ status: ["completed"] })).filter(
      (r) => r.updatedAt < cut && r.sagaId !== finishing.sagaId,
    );
    // The saga recovery completed on a clock ten minutes ahead was updated "later" than now.
    const young = (await log.list({ status: ["completed"] })).filter((r) => r.updatedAt >= cut);
    expect(old.length).toBeGreaterThan(0);
    const r = await postForm(`${consoleUp.base}/actions/prune`, {
      token: TOKEN,
      confirm: "yes",
      older_than_days: "0",
      status: ["completed"],
      actor: "erin",
      note: "quarterly clean-up",
    });
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(html).toContain(`data-testid="pruned">${old.length}<`);
    expect(html).toContain('data-testid="skipped">1<');
    expect((await log.list({ status: ["completed"] })).map((s) => s.sagaId).sort()).toEqual(
      [...young.map((s) => s.sagaId), finishing.sagaId].sort(),
    );
    expect((await log.list({ status: ["needs_attention"] })).length).toBe(2);
    const events = (await log.operations?.events()) ?? [];
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: "erin",
      action: "prune",
      note: "quarterly clean-up",
      request: { statuses: ["completed"] },
      changed: old.length,
      skipped: 1,
      sagaIds: old.map((s) => s.sagaId).sort(),
    });
    expect(html).toContain(`href="/events#event-${events[0]?.eventId}"`);
    const page = await (await get("/events")).text();
    expect(page.match(/<tr id="event-/g)).toHaveLength(1);
    expect(page).toContain("quarterly clean-up");
    expect(page).toContain(`<td data-testid="changed">${old.length}</td>`);
  });
});

describe("console prune refusals", () => {
  it("refuses a prune without the token, or with a wrong one (403), and deletes and records nothing", async () => {
    const log = readOnly.seed.log;
    const before = JSON.stringify(await log.list());
    const url = `${readOnly.base}/actions/prune`;
    const fields = { confirm: "yes", older_than_days: "0", status: ["completed", "compensated"] };
    const attempts = [
      postForm(url, fields),
      postForm(url, { ...fields, token: TOKEN }),
      postForm(`${consoleUp.base}/actions/prune`, { ...fields, token: `${TOKEN}x` }),
      postForm(`${consoleUp.base}/actions/prune`, fields),
    ];
    for (const attempt of attempts) expect((await attempt).status).toBe(403);
    expect(attempts).toHaveLength(4);
    expect(JSON.stringify(await log.list())).toBe(before);
    expect(await log.operations?.events()).toEqual([]);
  });

  it("refuses (409) to prune a log that keeps no operator events, changing nothing", async () => {
    const memory = new MemorySagaLog();
    await memory.create(
      sagaRecord("01DONE", {
        status: SagaStatus.Completed,
        leaseOwner: null,
        leaseExpiresAt: null,
      }),
    );
    // A log of someone else's making, without `operations`.
    const log = new Proxy(memory, {
      get: (target, property) => {
        if (property === "operations") return undefined;
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const server = createServer(consoleHandler({ log, token: TOKEN }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${base}/actions/prune`)).status).toBe(409);
      const r = await postForm(`${base}/actions/prune`, {
        token: TOKEN,
        confirm: "yes",
        older_than_days: "0",
        status: "completed",
      });
      expect(r.status).toBe(409);
      expect(await r.text()).toContain("keeps no operator events");
      expect(await memory.load("01DONE")).toBeDefined();
      expect(await (await fetch(`${base}/events`)).text()).toContain('data-testid="no-operations"');
      expect(await (await fetch(`${base}/workers`)).text()).toContain(
        "this log keeps no status reports",
      );
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("the recovery workers page", () => {
  it("shows each reporting worker with its heartbeat, marking a silent one stale and a stopped one stopped", async () => {
    const ops = readOnly.seed.log.operations;
    const now = Date.now();
    const report = (workerId: string, heartbeatAt: number, stoppedAt: number | null = null) =>
      ops?.reportWorker({
        ...workerStatus(workerId, heartbeatAt, { stoppedAt }),
        intervalMs: 30_000,
      });
    await report("worker-live", now - 5_000);
    await report("worker-silent", now - 10 * 60_000);
    await report("worker-done", now - 60_000, now - 60_000);
    const html = await (await get("/workers", readOnly.base)).text();
    const states = [...html.matchAll(/<tr data-worker="([^"]+)" data-state="([a-z]+)"/g)].map(
      (m) => [m[1], m[2]],
    );
    expect(states).toEqual([
      ["worker-live", "running"],
      ["worker-done", "stopped"],
      ["worker-silent", "stale"],
    ]);
    expect(html).toContain("no report for 10m, expected within 30s of a pass");
    expect(html).not.toContain('data-testid="no-worker-reports"');
    expect(html).toContain("the log&#39;s disk is full");
  });
});

describe("consoleHandler options", () => {
  it("refuses a page size and a token it cannot use, naming them", () => {
    const log = new MemorySagaLog();
    expect(() => consoleHandler({ log, pageSize: 0 })).toThrow(
      "Expected `pageSize` to be an integer from 1 to 1000, got 0.",
    );
    expect(() => consoleHandler({ log, token: "short" })).toThrow("at least 8 characters");
  });
});
