import net from "node:net";
import { PG_URL } from "./pg-test.js";

/**
 * A TCP proxy in front of Postgres that can lose a connection at the worst moment: after the server
 * has answered a COMMIT (so the commit is durable) and before the answer reaches the client.
 */
export interface CuttingProxy {
  /** The test database's URL, through the proxy. */
  readonly url: string;
  /** Arms the proxy; resolves once it has swallowed a COMMIT's answer and cut that connection. */
  cutAfterNextCommit(): Promise<void>;
  close(): Promise<void>;
}

const COMMIT_QUERY = Buffer.from("COMMIT\0");

export async function startCuttingProxy(): Promise<CuttingProxy> {
  const target = new URL(PG_URL);
  let armed: (() => void) | undefined;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    let cutOnAnswer: (() => void) | undefined;
    client.on("data", (chunk: Buffer) => {
      const at = chunk.indexOf(COMMIT_QUERY);
      // A simple-protocol query message: 'Q', a 4-byte length, then the SQL text.
      if (armed !== undefined && at >= 5 && chunk[at - 5] === 0x51) {
        cutOnAnswer = armed;
        armed = undefined;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (cutOnAnswer !== undefined) {
        const done = cutOnAnswer;
        cutOnAnswer = undefined;
        client.resetAndDestroy();
        upstream.destroy();
        done();
        return;
      }
      client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const url = new URL(PG_URL);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return {
    url: url.toString(),
    cutAfterNextCommit: () =>
      new Promise<void>((resolve) => {
        armed = resolve;
      }),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
