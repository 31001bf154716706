import { randomInt } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What a fault does to the request it matches. */
export type FaultAction =
  /** Applies the write, then destroys the socket: the client never sees the response. */
  | { readonly type: "drop-after-apply" }
  /** Destroys the socket without applying anything. */
  | { readonly type: "drop-before-apply" }
  /** Applies the write, then holds the response until the fault is released (or the server closes). */
  | { readonly type: "hold-after-apply" }
  /** Answers `status` (default 500) without applying; `notApplied` adds `lockstep-applied: false`. */
  | { readonly type: "fail-before-apply"; readonly status?: number; readonly notApplied?: boolean };

/** Which requests a fault matches, and how many times it fires. */
export interface FaultRule {
  readonly method?: "GET" | "PUT" | "DELETE";
  /** Matches document paths starting with this, e.g. `"_index/"` for status-index markers. */
  readonly pathPrefix?: string;
  readonly action: FaultAction;
  /** @default 1 */
  readonly times?: number;
}

/** An installed fault: how often it fired, and the release of held responses. */
export interface InstalledFault {
  fired(): number;
  /** Sends every response this fault is holding. */
  release(): void;
}

/** A document as the server stores it. */
export interface StoredDocument {
  readonly body: unknown;
  readonly etag: string;
}

/** A real HTTP document service on 127.0.0.1, implementing lockstep's document protocol. */
export interface DocumentServer {
  /** The base URL to give `httpDocumentStore`. */
  readonly baseUrl: string;
  /** Reads a document directly, bypassing HTTP. */
  document(path: string): StoredDocument | undefined;
  /** Writes a document directly, as another writer would; returns its new ETag. */
  write(path: string, body: unknown): string;
  /** Every request received, as `"METHOD path"`, in order. */
  readonly requests: readonly string[];
  /** How many writes were applied. */
  readonly applied: number;
  fault(rule: FaultRule): InstalledFault;
  close(): Promise<void>;
}

/**
 * Starts the document service on an ephemeral port. Documents live under `/docs/`; ETags come from
 * one counter for the whole server, so a document deleted and created again never reuses an ETag,
 * started at a random point, so neither does a server started again.
 */
export async function startDocumentServer(): Promise<DocumentServer> {
  const docs = new Map<string, { text: string; etag: string }>();
  const requests: string[] = [];
  const held = new Set<() => void>();
  const rules: { rule: FaultRule; fired: number; held: Set<() => void> }[] = [];
  // A random start, so a server started again with its counter lost does not repeat ETags.
  let counter = randomInt(2 ** 40);
  let applied = 0;
  const nextEtag = () => `"e${++counter}"`;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const text = await readBody(req);
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!url.pathname.startsWith("/docs/")) {
      res.writeHead(404).end();
      return;
    }
    const path = url.pathname.slice("/docs/".length).split("/").map(decodeURIComponent).join("/");
    const method = req.method ?? "GET";
    requests.push(`${method} ${path}`);
    const active = rules.find(
      (r) =>
        r.fired < (r.rule.times ?? 1) &&
        (r.rule.method === undefined || r.rule.method === method) &&
        (r.rule.pathPrefix === undefined || path.startsWith(r.rule.pathPrefix)),
    );
    if (active) active.fired++;
    const action = active?.rule.action;
    if (action?.type === "drop-before-apply") {
      req.socket.destroy();
      return;
    }
    if (action?.type === "fail-before-apply") {
      res.writeHead(action.status ?? 500, action.notApplied ? { "lockstep-applied": "false" } : {});
      res.end("injected failure");
      return;
    }
    const response = apply(method, path, req.headers, text);
    if (action?.type === "drop-after-apply") {
      req.socket.destroy();
      return;
    }
    const send = () => {
      res.writeHead(response.status, response.headers);
      res.end(response.body);
    };
    if (action?.type === "hold-after-apply" && active) {
      const release = () => {
        held.delete(release);
        active.held.delete(release);
        if (!res.destroyed) send();
      };
      held.add(release);
      active.held.add(release);
      return;
    }
    send();
  };

  const apply = (
    method: string,
    path: string,
    headers: IncomingMessage["headers"],
    text: string,
  ): { status: number; headers: Record<string, string>; body?: string } => {
    const current = docs.get(path);
    const ifMatch = headers["if-match"];
    const ifNoneMatch = headers["if-none-match"];
    if (method === "GET") {
      return current
        ? { status: 200, headers: { etag: current.etag }, body: current.text }
        : { status: 404, headers: {} };
    }
    if (ifNoneMatch === "*" && current) return { status: 412, headers: {} };
    if (ifMatch !== undefined && current?.etag !== ifMatch) return { status: 412, headers: {} };
    if (method === "PUT") {
      try {
        JSON.parse(text);
      } catch {
        return { status: 400, headers: {}, body: "body is not JSON" };
      }
      const etag = nextEtag();
      docs.set(path, { text, etag });
      applied++;
      return { status: current ? 200 : 201, headers: { etag } };
    }
    if (method === "DELETE") {
      if (!current) return { status: 404, headers: {} };
      docs.delete(path);
      applied++;
      return { status: 204, headers: {} };
    }
    return { status: 405, headers: {} };
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/docs/`,
    document: (path) => {
      const doc = docs.get(path);
      return doc && { body: JSON.parse(doc.text) as unknown, etag: doc.etag };
    },
    write: (path, body) => {
      const etag = nextEtag();
      docs.set(path, { text: JSON.stringify(body), etag });
      return etag;
    },
    requests,
    get applied() {
      return applied;
    },
    fault: (rule) => {
      const entry = { rule, fired: 0, held: new Set<() => void>() };
      rules.push(entry);
      return {
        fired: () => entry.fired,
        release: () => {
          for (const release of [...entry.held]) release();
        },
      };
    },
    close: async () => {
      for (const release of [...held]) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
