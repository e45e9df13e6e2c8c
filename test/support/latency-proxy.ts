/**
 * A TCP proxy on loopback in front of a real server whose answers can be delayed (real sockets,
 * real latency: `delayMillis`) and whose open sessions can be dropped while new ones still go
 * through (`drop()`: a connection lost in transit, not a server gone).
 *
 * It can also simulate a network cut and its heal as TCP's retransmission backoff makes them look
 * to sessions open at the cut (`blackhole()`, `heal()`, `release()`): during the cut nothing
 * passes (bytes and closes are held, new connections wait unconnected); after `heal()` new
 * connections go through while the sessions that sent something during the cut still swallow
 * their traffic (their next retransmission is seconds away); `release()` is that retransmission:
 * everything held is delivered.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** One proxied connection: held while cut off, with what it could not deliver yet. */
interface Link {
  client: Socket;
  upstream: Socket | undefined;
  held: boolean;
  toServer: Buffer[];
  toClient: Buffer[];
  clientClosed: boolean;
  upstreamClosed: boolean;
}

export class LatencyProxy {
  /** How long the server's answers wait before they reach the client (0: forwarded at once). */
  delayMillis = 0;
  /** New connections are closed at once (a server down: nothing listening); open sessions are not touched. */
  refusing = false;
  port = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #links = new Set<Link>();
  #cut = false;

  private constructor(
    private readonly host: string,
    private readonly upstreamPort: number,
  ) {
    this.#server = createServer((client) => {
      if (this.refusing) {
        client.destroy(); // like a server that is not listening: the connection fails at once
        return;
      }
      const link: Link = { client, upstream: undefined, held: this.#cut, toServer: [], toClient: [], clientClosed: false, upstreamClosed: false };
      this.#links.add(link);
      this.#track(client);
      client.on('data', (chunk: Buffer) => {
        if (link.held || !link.upstream) link.toServer.push(chunk);
        else link.upstream.write(chunk);
      });
      client.on('close', () => {
        link.clientClosed = true;
        if (!link.held) link.upstream?.destroy();
        if (link.upstreamClosed || !link.upstream) this.#links.delete(link);
      });
      if (!link.held) this.#open(link);
    });
  }

  #track(s: Socket): void {
    this.#sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => this.#sockets.delete(s));
  }

  /** Connects the link's upstream side and forwards what the client sent meanwhile. */
  #open(link: Link): void {
    const upstream = connect(this.upstreamPort, this.host);
    link.upstream = upstream;
    this.#track(upstream);
    for (const chunk of link.toServer.splice(0)) upstream.write(chunk);
    upstream.on('data', (chunk: Buffer) => {
      if (link.held) {
        link.toClient.push(chunk);
        return;
      }
      const d = this.delayMillis;
      if (d) setTimeout(() => link.client.writable && link.client.write(chunk), d);
      else link.client.write(chunk);
    });
    upstream.on('close', () => {
      link.upstreamClosed = true;
      if (link.held) return; // the server's close is held with its bytes
      const d = this.delayMillis;
      if (d) setTimeout(() => link.client.destroy(), d);
      else link.client.destroy();
      if (link.clientClosed) this.#links.delete(link);
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

  /** The cut: every open session swallows its traffic (both ways, closes too); new connections wait unconnected. */
  blackhole(): void {
    this.#cut = true;
    for (const l of this.#links) l.held = true;
  }

  /**
   * The heal, seen from sessions open at the cut: new connections go through (and those that waited
   * connect); sessions that sent nothing during the cut flow again (TCP has nothing to retransmit);
   * those that did stay held until {@link release}.
   */
  heal(): void {
    this.#cut = false;
    for (const l of [...this.#links]) {
      if (!l.upstream) {
        if (l.clientClosed) this.#links.delete(l);
        else {
          l.held = false;
          this.#open(l);
        }
        continue;
      }
      if (l.held && !l.toServer.length && !l.toClient.length && !l.clientClosed && !l.upstreamClosed) l.held = false;
    }
  }

  /** The retransmission after the backoff: every held session delivers what it holds (closes included) and flows again. */
  release(): void {
    for (const l of [...this.#links]) {
      if (!l.held) continue;
      l.held = false;
      if (!l.upstream) {
        if (!l.clientClosed) this.#open(l);
        else this.#links.delete(l);
        continue;
      }
      if (l.clientClosed) {
        // Like a kernel that closed a socket with unsent data: the data still goes, then the FIN.
        for (const chunk of l.toServer.splice(0)) if (!l.upstreamClosed) l.upstream.write(chunk);
        l.upstream.end();
        this.#links.delete(l);
        continue;
      }
      for (const chunk of l.toServer.splice(0)) if (!l.upstreamClosed) l.upstream.write(chunk);
      for (const chunk of l.toClient.splice(0)) l.client.write(chunk);
      if (l.upstreamClosed) {
        l.client.destroy();
        this.#links.delete(l);
      }
    }
  }

  async close(): Promise<void> {
    this.drop();
    this.#links.clear();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
