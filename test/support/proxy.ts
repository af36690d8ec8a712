import net from 'node:net';

export interface Proxy {
  port: number;
  /** The target's connection string, pointed at the proxy. */
  url: string;
  /** Existing connections go silent: nothing more is delivered either way, and nothing is closed. */
  blackhole(): void;
  /** Cuts every connection and refuses new ones (closed as soon as they are accepted). */
  down(): void;
  /** Accepts connections again after down(). */
  up(): void;
  /**
   * The next client message containing `marker` is forwarded, and when the server answers it (the
   * statement ran and, in autocommit, committed) the answer is dropped and both sides are closed, as if
   * the network failed right after the commit.
   */
  cutAfterAnswer(marker: string): void;
  /**
   * The server's answer to the next client message containing `marker` is held back until the server
   * sends something more (or closes), then both reach the client in one write, as one network chunk.
   * Resolves once the answer is being held.
   */
  holdAnswer(marker: string): Promise<void>;
  close(): Promise<void>;
}

/** A TCP proxy in front of PostgreSQL (`target` is its connection string) whose connections can fail on cue. */
export function startProxy(target: string): Promise<Proxy> {
  const to = new URL(target);
  let open = true;
  let armed: string | null = null;
  let holdArmed: { marker: string; held: () => void } | null = null;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; dead: boolean }>();
  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(to.port || 5432), to.hostname);
    const pair = { client, upstream, dead: false };
    let cutting = false;
    let holding: { held: () => void } | null = null;
    let held: Buffer | null = null;
    pairs.add(pair);
    client.on('data', (d) => {
      if (pair.dead) return;
      if (armed !== null && d.includes(armed)) {
        armed = null;
        cutting = true;
      }
      if (holdArmed !== null && d.includes(holdArmed.marker)) {
        holding = holdArmed;
        holdArmed = null;
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (pair.dead) return;
      if (cutting) {
        client.destroy();
        upstream.destroy();
        return;
      }
      if (holding) {
        held = d;
        holding.held();
        holding = null;
        return;
      }
      if (held) {
        d = Buffer.concat([held, d]);
        held = null;
      }
      client.write(d);
    });
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      // Whatever was held still reaches the client, then the client sees the close.
      if (held) client.end(held);
      else client.destroy();
      held = null;
      pairs.delete(pair);
    });
  });
  const cutAll = () => {
    for (const p of pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
  };
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      const via = new URL(target);
      via.hostname = '127.0.0.1';
      via.port = String(port);
      resolve({
        port,
        url: via.toString(),
        blackhole: () => pairs.forEach((p) => (p.dead = true)),
        down: () => {
          open = false;
          cutAll();
        },
        up: () => (open = true),
        cutAfterAnswer: (marker) => (armed = marker),
        holdAnswer: (marker) => new Promise<void>((held) => (holdArmed = { marker, held })),
        close: () =>
          new Promise<void>((done) => {
            cutAll();
            server.close(() => done());
          }),
      });
    }),
  );
}
