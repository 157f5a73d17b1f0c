/**
 * The Kubernetes API through SSH, for hosts the machine running Pulumi cannot reach directly (behind a
 * bastion): a listener on 127.0.0.1:<localPort> whose every connection is forwarded over one SSH session
 * with the first server (through its bastion, with the stack's key and pinned host keys) to the API as
 * that server sees it, 127.0.0.1:6443. Opened once per program run and kept for the run's lifetime (the
 * Kubernetes provider and the build-result reader connect to it while the engine works); its handles are
 * unref'd, so it never holds the program open. A dropped session is dialled again on the next connection.
 */
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { targetLabel } from "./runner";
import { connectSsh, type SshSession, type SshTarget } from "./transport";

export interface ApiTunnel {
    /** The local port (127.0.0.1). */
    readonly port: number;
    close(): void;
}

/** Where the API answers on a k3s server itself. */
export const API_ON_SERVER = { host: "127.0.0.1", port: 6443 } as const;

/** Opens the tunnel; fails (naming the host) when the first server cannot be reached or the port is taken. */
export async function openApiTunnel(
    target: SshTarget,
    localPort: number,
    remote: { host: string; port: number } = API_ON_SERVER,
): Promise<ApiTunnel> {
    let session: Promise<SshSession> | undefined;
    const sessionOf = (): Promise<SshSession> => {
        if (session === undefined) {
            const s = connectSsh(target, { keepalive: false });
            session = s;
            s.then(
                (open) => {
                    open.unref();
                    open.client.on("close", () => {
                        if (session === s) session = undefined;
                    });
                },
                () => {
                    if (session === s) session = undefined;
                },
            );
        }
        return session;
    };
    await sessionOf();
    const forward = (sock: Socket) => {
        // An idle keep-alive connection of a client must not hold the program open either.
        sock.unref();
        sock.on("error", () => sock.destroy());
        sessionOf().then(
            ({ client }) =>
                client.forwardOut("127.0.0.1", 0, remote.host, remote.port, (err, stream) => {
                    if (err) {
                        sock.destroy();
                        return;
                    }
                    stream.on("error", () => sock.destroy());
                    sock.on("close", () => stream.destroy());
                    sock.pipe(stream).pipe(sock);
                }),
            () => sock.destroy(),
        );
    };
    const server = createServer(forward);
    await new Promise<void>((resolve, reject) => {
        server.once("error", (e: NodeJS.ErrnoException) =>
            reject(
                new Error(
                    e.code === "EADDRINUSE"
                        ? `the API tunnel to ${targetLabel(target)} cannot listen on 127.0.0.1:${localPort}: the port is in use (another stack's tunnel?); set cluster.apiTunnel.localPort to a free port`
                        : `the API tunnel to ${targetLabel(target)} cannot listen on 127.0.0.1:${localPort}: ${e.message}`,
                ),
            ),
        );
        server.listen(localPort, "127.0.0.1", () => resolve());
    });
    server.unref();
    return {
        port: (server.address() as AddressInfo).port,
        close: () => {
            server.close();
            void session?.then(
                (s) => s.close(),
                () => undefined,
            );
        },
    };
}

/**
 * How the program opens tunnels: replaced under Pulumi's mocks (tools/evaluate), where no host
 * exists, by an opener that records the call and returns the port it was asked for.
 */
export const apiTunnels = { open: openApiTunnel };

const open = new Map<string, Promise<ApiTunnel>>();
/** The program's one tunnel per first server and port (every user of the kubeconfig shares it). */
export function apiTunnel(target: SshTarget, localPort: number): Promise<ApiTunnel> {
    const key = `${targetLabel(target)} ${localPort}`;
    let t = open.get(key);
    if (t === undefined) {
        t = apiTunnels.open(target, localPort);
        open.set(key, t);
        t.catch(() => open.delete(key));
    }
    return t;
}

/** A local port for the stack's tunnel when none is configured: stable per stack (20000–29999), so the provider's kubeconfig does not change between runs. */
export function defaultTunnelPort(stack: string): number {
    let h = 2166136261;
    for (const c of Buffer.from(stack, "utf8")) h = Math.imul(h ^ c, 16777619) >>> 0;
    return 20000 + (h % 10000);
}
