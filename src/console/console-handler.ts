import type { IncomingMessage, ServerResponse } from "node:http";
import { type Clock, systemClock } from "../core/clock.js";
import { messageOf } from "../core/message-of.js";
import type { Saga } from "../core/saga.js";
import type { SagaLog } from "../log/saga-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { renderTimelineSvg } from "../observability/timeline-svg.js";
import { ACTIONS, type ActionName, confirmPage, runAction } from "./actions.js";
import { type ConsoleResponse, problemPage } from "./html.js";
import { listPage, parseListQuery } from "./list-page.js";
import { eventsPage, workersPage } from "./operations-pages.js";
import { attentionPage } from "./queue-pages.js";
import { ConsoleRefusal } from "./refusal.js";
import { sagaPage } from "./saga-page.js";

/** Options of {@link consoleHandler}. */
export interface ConsoleOptions {
  /** The saga log the console shows. */
  readonly log: SagaLog;
  /**
   * The saga definitions: a diagnosis probes with them, and running recovery needs them.
   * @default none: diagnoses read the log alone and recovery is refused
   */
  // biome-ignore lint/suspicious/noExplicitAny: sagas of every input and output type.
  readonly sagas?: readonly Saga<any, any>[];
  /**
   * The secret that turns actions on. Without it the console only shows the log; with it, every
   * action must be posted with it (form field `token` or header `x-lockstep-token`).
   * @default none: actions are off
   */
  readonly token?: string;
  /**
   * Who acts, when an action's form does not say; recorded in the operator entry.
   * @default "console"
   */
  readonly actor?: string;
  /** @default the system clock */
  readonly clock?: Clock;
  /**
   * Sagas per list page.
   * @default 50
   */
  readonly pageSize?: number;
}

const MAX_BODY = 64 * 1024;
const HEADERS = {
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/**
 * The operator's console as a `node:http` request handler: server-rendered pages over `options.log`
 * (sagas list with filters and keyset paging, one saga with its timeline drawing and diagnosis, the
 * needs_attention queue, recovery workers' status, operator events) and, with a token, confirmed
 * actions. Pages are read only (`GET`); actions are `POST` with the token in the body or a header,
 * never a cookie. Every text from the log is escaped. It opens no socket: give it to `http.createServer`.
 * `lockstep console` serves it with `http.createServer(handler).listen(port, "127.0.0.1")`.
 */
export function consoleHandler(
  options: ConsoleOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const pageSize = options.pageSize ?? 50;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new LockstepDefinitionError(
      `Expected \`pageSize\` to be an integer from 1 to 1000, got ${String(pageSize)}.`,
    );
  }
  if (
    options.token !== undefined &&
    (typeof options.token !== "string" || options.token.length < 8)
  ) {
    throw new LockstepDefinitionError("Expected `token` to be a string of at least 8 characters.");
  }
  const clock = options.clock ?? systemClock;
  const context = {
    log: options.log,
    sagas: options.sagas,
    token: options.token,
    actor: options.actor ?? "console",
    clock,
  };
  const route = async (req: IncomingMessage): Promise<ConsoleResponse> => {
    const url = new URL(req.url ?? "/", "http://console.invalid");
    const path = url.pathname;
    const method = req.method ?? "GET";
    const action = /^\/actions\/([a-z]+)$/.exec(path)?.[1];
    if (action !== undefined) {
      if (!(ACTIONS as readonly string[]).includes(action)) throw notFound(path);
      if (method === "POST") {
        const form = await readForm(req);
        const header = req.headers["x-lockstep-token"];
        return runAction(
          context,
          action as ActionName,
          form,
          typeof header === "string" ? header : undefined,
        );
      }
      onlyGet(method, "GET, POST");
      return confirmPage(context, action as ActionName, url.searchParams);
    }
    onlyGet(method, "GET");
    if (path === "/") return { status: 302, body: "", headers: { location: "/sagas" } };
    if (path === "/sagas") {
      return listPage(options.log, parseListQuery(url.searchParams, pageSize), pageSize);
    }
    if (path === "/attention") return attentionPage(options.log, options.token !== undefined);
    if (path === "/workers") return workersPage(options.log, clock.now());
    if (path === "/events") return eventsPage(options.log);
    const saga = /^\/sagas\/([^/]+?)(\/timeline\.svg)?$/.exec(path);
    if (saga !== null) {
      let sagaId: string;
      try {
        sagaId = decodeURIComponent(saga[1] as string);
      } catch {
        throw new ConsoleRefusal(
          400,
          "Bad request",
          `The saga id in "${path}" is not valid percent-encoding.`,
        );
      }
      if (saga[2] !== undefined) {
        const snapshot = await options.log.load(sagaId);
        if (snapshot === undefined)
          throw new ConsoleRefusal(
            404,
            "No such saga",
            `No saga with id "${sagaId}" is in the log.`,
          );
        return {
          status: 200,
          body: renderTimelineSvg(snapshot),
          type: "image/svg+xml; charset=utf-8",
        };
      }
      return sagaPage(
        {
          log: options.log,
          sagas: options.sagas,
          actions: options.token !== undefined,
          now: clock.now(),
        },
        sagaId,
        url.searchParams.get("diagnose") === "1",
      );
    }
    throw notFound(path);
  };
  return (req, res) => {
    route(req)
      .catch((error: unknown): ConsoleResponse => {
        if (error instanceof ConsoleRefusal) {
          return {
            ...problemPage(error.status, error.title, error.message),
            headers: error.headers,
          };
        }
        if (LockstepDefinitionError.is(error))
          return problemPage(400, "Bad request", messageOf(error));
        return problemPage(
          500,
          "The console failed",
          `The console could not answer: ${messageOf(error)}`,
        );
      })
      .then((response) => {
        res.writeHead(response.status, {
          ...HEADERS,
          "content-type": response.type ?? "text/html; charset=utf-8",
          ...response.headers,
        });
        res.end(req.method === "HEAD" ? undefined : response.body);
      })
      .catch(() => {
        // The client went away mid-answer; there is nobody left to tell.
        res.destroy();
      });
  };
}

function notFound(path: string): ConsoleRefusal {
  return new ConsoleRefusal(404, "Not found", `The console has no page at "${path}".`);
}

/** Refuses (405) any method but GET and HEAD; `allow` lists what the path takes. */
function onlyGet(method: string, allow: string): void {
  if (method !== "GET" && method !== "HEAD") {
    throw new ConsoleRefusal(
      405,
      allow,
      `This page only answers ${allow}; ${method} changes nothing here.`,
    );
  }
}

/** Reads a posted form: urlencoded, at most 64 KiB. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new ConsoleRefusal(
      400,
      "Bad request",
      `Expected an application/x-www-form-urlencoded form, got "${type ?? ""}".`,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY)
      throw new ConsoleRefusal(413, "Too large", `A form may hold at most ${MAX_BODY} bytes.`);
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
