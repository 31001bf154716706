import net from "node:net";
import { MYSQL_URL } from "./mysql-test.js";

/**
 * A TCP proxy in front of MySQL that can lose a connection at the worst moment: after the server
 * has answered a COMMIT (so the commit is durable) and before the answer reaches the client.
 */
export interface CuttingProxy {
  readonly host: string;
  readonly port: number;
  /** Arms the proxy; resolves once it has swallowed a COMMIT's answer and cut that connection. */
  cutAfterNextCommit(): Promise<void>;
  close(): Promise<void>;
}

/** Whether `chunk` is exactly one COM_QUERY packet (command byte 0x03) carrying `COMMIT`. */
function isCommit(chunk: Buffer): boolean {
  return chunk.length === 11 && chunk[4] === 0x03 && chunk.subarray(5).toString() === "COMMIT";
}

export async function startCuttingProxy(): Promise<CuttingProxy> {
  const target = new URL(MYSQL_URL);
  let armed: (() => void) | undefined;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 3306), target.hostname);
    sockets.add(client).add(upstream);
    let cutOnAnswer: (() => void) | undefined;
    client.on("data", (chunk: Buffer) => {
      if (armed !== undefined && isCommit(chunk)) {
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
  return {
    host: "127.0.0.1",
    port,
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
