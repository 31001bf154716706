import { createServer, type Socket, connect as tcpConnect } from "node:net";
import { REDIS_HOST, REDIS_PORT } from "./redis-test-client.js";

/**
 * What the proxy does with Redis's replies: pass them on, hold them (the command ran; its caller
 * waits), or drop the connection when the next reply arrives (the command ran; its caller loses the
 * connection before hearing so).
 */
export type ProxyMode = "pass" | "hold" | "drop-on-reply";

/** A TCP proxy in front of the test Redis, to lose replies of commands Redis did run. */
export interface RedisProxy {
  readonly port: number;
  mode: ProxyMode;
  /** How many replies were held or dropped. */
  readonly intercepted: number;
  close(): Promise<void>;
}

/** Starts a proxy on an ephemeral port of 127.0.0.1 that forwards to the test Redis. */
export async function startRedisProxy(): Promise<RedisProxy> {
  const sockets = new Set<Socket>();
  let intercepted = 0;
  const state = { mode: "pass" as ProxyMode };
  const server = createServer((client) => {
    const upstream = tcpConnect(REDIS_PORT, REDIS_HOST);
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => {
      if (state.mode === "pass") {
        client.write(chunk);
        return;
      }
      intercepted++;
      if (state.mode === "drop-on-reply") {
        client.destroy();
        upstream.destroy();
      }
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    get mode() {
      return state.mode;
    },
    set mode(value: ProxyMode) {
      state.mode = value;
    },
    get intercepted() {
      return intercepted;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
