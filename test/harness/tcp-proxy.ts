/**
 * A TCP proxy on 127.0.0.1 in front of one address, for benchmarks: it delays every chunk by `delayMs`
 * in each direction (a round trip of 2 × delayMs; this kernel has no netem) and counts the connections
 * it carried. Order is kept: chunks in one direction are written in the order they came, each `delayMs`
 * after it arrived.
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export interface TcpProxy {
    readonly port: number;
    /** Connections accepted so far. */
    connections(): number;
    close(): Promise<void>;
}

function pipeDelayed(from: Socket, to: Socket, delayMs: number): void {
    from.on("data", (chunk: Buffer) => {
        if (delayMs === 0) to.write(chunk);
        else setTimeout(() => to.writable && to.write(chunk), delayMs);
    });
    from.on("end", () => (delayMs === 0 ? to.end() : setTimeout(() => to.end(), delayMs)));
    from.on("error", () => to.destroy());
    from.on("close", () => setTimeout(() => to.destroy(), delayMs + 10));
}

export async function startTcpProxy(targetPort: number, delayMs: number): Promise<TcpProxy> {
    let count = 0;
    const sockets = new Set<Socket>();
    const server: Server = createServer((client) => {
        count++;
        const upstream = connect(targetPort, "127.0.0.1");
        for (const s of [client, upstream]) {
            s.setNoDelay(true);
            sockets.add(s);
            s.on("close", () => sockets.delete(s));
        }
        pipeDelayed(client, upstream, delayMs);
        pipeDelayed(upstream, client, delayMs);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("the proxy has no port");
    return {
        port: address.port,
        connections: () => count,
        close: () =>
            new Promise<void>((resolve) => {
                for (const s of sockets) s.destroy();
                server.close(() => resolve());
            }),
    };
}
