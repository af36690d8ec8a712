import net from 'node:net';

/** A TCP proxy in front of PostgreSQL whose existing connections can be silently blackholed. */
export function startProxy(
  target: URL,
): Promise<{ port: number; blackhole(): void; close(): Promise<void> }> {
  const pairs: { client: net.Socket; upstream: net.Socket; dead: boolean }[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    const pair = { client, upstream, dead: false };
    pairs.push(pair);
    client.on('data', (d) => void (pair.dead || upstream.write(d)));
    upstream.on('data', (d) => void (pair.dead || client.write(d)));
    for (const s of [client, upstream]) s.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        blackhole: () => pairs.forEach((p) => (p.dead = true)),
        close: () =>
          new Promise<void>((done) => {
            for (const p of pairs) {
              p.client.destroy();
              p.upstream.destroy();
            }
            server.close(() => done());
          }),
      }),
    ),
  );
}
