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
  close(): Promise<void>;
}

/** A TCP proxy in front of PostgreSQL (`target` is its connection string) whose connections can fail on cue. */
export function startProxy(target: string): Promise<Proxy> {
  const to = new URL(target);
  let open = true;
  let armed: string | null = null;
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
    pairs.add(pair);
    client.on('data', (d) => {
      if (pair.dead) return;
      if (armed !== null && d.includes(armed)) {
        armed = null;
        cutting = true;
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
      client.write(d);
    });
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      client.destroy();
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
        close: () =>
          new Promise<void>((done) => {
            cutAll();
            server.close(() => done());
          }),
      });
    }),
  );
}
