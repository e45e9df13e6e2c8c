/**
 * A TCP proxy on loopback in front of a real server whose answers can be delayed (real sockets,
 * real latency: `delayMillis`) and whose open sessions can be dropped while new ones still go
 * through (`drop()`: a connection lost in transit, not a server gone).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class LatencyProxy {
  /** How long the server's answers wait before they reach the client (0: forwarded at once). */
  delayMillis = 0;
  port = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(host: string, port: number) {
    this.#server = createServer((client) => {
      const upstream = connect(port, host);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => this.#sockets.delete(s));
      }
      client.pipe(upstream);
      upstream.on('data', (chunk) => {
        const d = this.delayMillis;
        if (d) setTimeout(() => client.writable && client.write(chunk), d);
        else client.write(chunk);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => {
        const d = this.delayMillis;
        if (d) setTimeout(() => client.destroy(), d);
        else client.destroy();
      });
    });
  }

  static async start(host: string, port: number, delayMillis = 0): Promise<LatencyProxy> {
    const p = new LatencyProxy(host, port);
    p.delayMillis = delayMillis;
    await new Promise<void>((r) => p.#server.listen(0, '127.0.0.1', r));
    p.port = (p.#server.address() as { port: number }).port;
    return p;
  }

  /** Ends every open session (both sides); new connections still go through. */
  drop(): void {
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
