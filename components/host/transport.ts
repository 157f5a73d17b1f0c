/**
 * Runs a script on a host and returns what it printed: over SSH (the `ssh2` client) or locally
 * (`child_process`). Used by the drift-detecting dynamic resources, whose create/read/update/delete
 * run inside the Pulumi engine's provider process. The script goes on stdin; the command line is
 * {@link runnerCommand}, so no parameter or secret is ever on a command line. Over SSH, every command of
 * a process to one host shares one connection (see {@link sshPool}).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { runnerCommand, SUDO_EXIT_CODE, targetLabel, type TransportTarget } from "./runner";

/** What a command reads on stdin: text, or a stream opened when the command starts (a file upload). */
export type Stdin = string | (() => NodeJS.ReadableStream);

function feed(stdin: Stdin, sink: NodeJS.WritableStream): void {
    if (typeof stdin === "string") sink.end(stdin);
    else stdin().pipe(sink);
}

export interface ScriptResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/**
 * A failure to reach or authenticate to a host, or a script that exited non-zero: a plain Error named
 * `TransportError` (a subclass of Error loses its message when provider code is serialized into state).
 */
export function transportError(message: string): Error {
    return Object.assign(new Error(message), { name: "TransportError" });
}

/** Runs `script` on `target` through {@link runnerCommand}; resolves with its exit code and output (a non-zero exit is not an error here). */
export async function execScript(target: TransportTarget, script: string, onStderr?: (chunk: string) => void): Promise<ScriptResult> {
    return execCommand(target, runnerCommand(target.sudo), script, onStderr);
}

/**
 * Runs one command line on `target` with `stdin` fed to it, as `@pulumi/command` does (over SSH:
 * the line goes to the login shell; locally: `/bin/sh -c`). The providers only ever pass the runner.
 */
export async function execCommand(
    target: TransportTarget,
    commandLine: string,
    stdin: Stdin,
    onStderr?: (chunk: string) => void,
): Promise<ScriptResult> {
    return target.kind === "local" ? execLocal(commandLine, stdin, onStderr) : execSsh(target, commandLine, stdin, onStderr);
}

/**
 * Runs `script` and returns its stdout; throws a {@link transportError} naming the host, the step
 * and the script's stderr when it exits non-zero.
 */
export async function runScript(
    target: TransportTarget,
    script: string,
    step: string,
    onStderr?: (chunk: string) => void,
): Promise<string> {
    const r = await execScript(target, script, onStderr);
    if (r.code === 0) return r.stdout;
    const where = targetLabel(target);
    if (r.code === SUDO_EXIT_CODE) throw transportError(`${where}: ${step}: ${r.stderr.trim()}`);
    const tail = r.stderr.trim().split("\n").slice(-20).join("\n");
    throw transportError(`${where}: ${step} failed with exit code ${r.code}${tail === "" ? "" : `:\n${tail}`}`);
}

function execLocal(commandLine: string, stdin: Stdin, onStderr?: (chunk: string) => void): Promise<ScriptResult> {
    return new Promise((resolve, reject) => {
        const child = spawn("/bin/sh", ["-c", commandLine], { stdio: ["pipe", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (d: Buffer) => out.push(d));
        child.stderr.on("data", (d: Buffer) => {
            err.push(d);
            onStderr?.(d.toString("utf8"));
        });
        child.on("error", reject);
        child.on("close", (code) =>
            resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }),
        );
        feed(stdin, child.stdin);
    });
}

export type SshTarget = Extract<TransportTarget, { kind: "ssh" }>;

/** The base64 key blob of an OpenSSH public key line (`type base64 [comment]`). */
function keyBlob(line: string): string {
    return line.trim().split(/\s+/)[1] ?? "";
}

function hostVerifier(expected: string | undefined, what: string, seen: { mismatch?: string }) {
    if (expected === undefined) return undefined;
    return (key: Buffer): boolean => {
        const got = key.toString("base64");
        if (got === keyBlob(expected)) return true;
        seen.mismatch = `${what}: host key mismatch: expected ${expected.slice(0, 40)}…, the server presented a different key (check hostKey; the host may have been reinstalled, or this is not the host you meant)`;
        return false;
    };
}

function describeSshError(
    where: string,
    e: Error & { code?: string; level?: string },
    seen: { mismatch?: string },
): { message: string; retry: boolean } {
    if (seen.mismatch !== undefined) return { message: seen.mismatch, retry: false };
    if (e.level === "client-authentication") {
        return {
            message: `${where}: authentication failed: the server rejected the private key (check sshPrivateKey, its passphrase, and the user's ~/.ssh/authorized_keys)`,
            retry: false,
        };
    }
    if (/encrypted|passphrase|Cannot parse privateKey/i.test(e.message)) {
        return {
            message: `${where}: the private key cannot be used: ${e.message} (check sshPrivateKey and sshPrivateKeyPassphrase)`,
            retry: false,
        };
    }
    const code = e.code === undefined ? "" : ` (${e.code})`;
    return { message: `${where}: cannot connect: ${e.message}${code}`, retry: true };
}

function connectOnce(config: ConnectConfig, where: string, seen: { mismatch?: string }): Promise<Client> {
    return new Promise((resolve, reject) => {
        const client = new Client();
        client.once("ready", () => resolve(client));
        client.once("error", (e: Error & { code?: string; level?: string }) => {
            client.end();
            const d = describeSshError(where, e, seen);
            reject(Object.assign(transportError(d.message), { retry: d.retry }));
        });
        try {
            client.connect(config);
        } catch (e) {
            // ssh2 throws synchronously for a key it cannot parse (e.g. encrypted, no passphrase).
            const d = describeSshError(where, e as Error, seen);
            reject(Object.assign(transportError(d.message), { retry: d.retry }));
        }
    });
}

async function connectWithRetries(config: ConnectConfig, where: string, limit: number, seen: { mismatch?: string }): Promise<Client> {
    let last: Error | undefined;
    for (let attempt = 1; attempt <= limit; attempt++) {
        try {
            return await connectOnce(config, where, seen);
        } catch (e) {
            last = e as Error;
            if (!(e as { retry?: boolean }).retry) throw e;
            if (attempt < limit) await new Promise((r) => setTimeout(r, Math.min(1000 * attempt, 5000)));
        }
    }
    throw transportError(`${last?.message ?? where} — gave up after ${limit} attempt${limit === 1 ? "" : "s"}`);
}

/** An open SSH session (see {@link connectSsh}). */
export interface SshSession {
    readonly client: Client;
    /** Ends the session and the bastion's. */
    close(): void;
    /** Lets the process exit while the session is open (for a session that lives as long as the program). */
    unref(): void;
    /** Holds the process open while the session is (undoes {@link unref}). */
    ref(): void;
}

/**
 * An SSH session with `t`, through its bastion if it has one (both host keys checked, the dial retried
 * `dialErrorLimit` times). `keepalive: false` sends no keepalives (their timer would hold the process open).
 */
export async function connectSsh(t: SshTarget, options: { keepalive?: boolean } = {}): Promise<SshSession> {
    const where = targetLabel(t);
    const seen: { mismatch?: string } = {};
    const common = {
        privateKey: t.privateKey,
        ...(t.privateKeyPassphrase === undefined ? {} : { passphrase: t.privateKeyPassphrase }),
        readyTimeout: t.dialTimeoutSeconds * 1000,
        keepaliveInterval: options.keepalive === false ? 0 : 10_000,
    };
    let bastion: Client | undefined;
    try {
        let sock: ConnectConfig["sock"];
        if (t.bastion !== undefined) {
            const b = t.bastion;
            const bWhere = `bastion ${b.user}@${b.host}:${b.port}`;
            bastion = await connectWithRetries(
                { ...common, host: b.host, port: b.port, username: b.user, hostVerifier: hostVerifier(b.hostKey, bWhere, seen) },
                bWhere,
                t.dialErrorLimit,
                seen,
            );
            const via = bastion;
            sock = await new Promise((resolve, reject) =>
                via.forwardOut("127.0.0.1", 0, t.host, t.port, (err, stream) =>
                    err
                        ? reject(transportError(`${bWhere}: cannot reach ${t.host}:${t.port} through the bastion: ${err.message}`))
                        : resolve(stream),
                ),
            );
        }
        const client = await connectWithRetries(
            {
                ...common,
                host: t.host,
                port: t.port,
                username: t.user,
                hostVerifier: hostVerifier(t.hostKey, where, seen),
                ...(sock === undefined ? {} : { sock }),
            },
            where,
            t.dialErrorLimit,
            seen,
        );
        const via = bastion;
        // A bastion that fails after the handshake ends this session (an 'error' without a listener would throw).
        via?.on("error", () => client.end());
        via?.on("close", () => client.end());
        // ssh2 keeps its TCP socket as `_sock`; (un)ref'ing it is the only way to let the process exit.
        const tcp = (c: Client | undefined) => (c as unknown as { _sock?: { unref?: () => void; ref?: () => void } } | undefined)?._sock;
        return {
            client,
            close: () => {
                client.end();
                via?.end();
            },
            unref: () => {
                tcp(via ?? client)?.unref?.();
            },
            ref: () => {
                tcp(via ?? client)?.ref?.();
            },
        };
    } catch (e) {
        bastion?.end();
        throw e;
    }
}

/**
 * Most commands one pooled connection runs at once: below OpenSSH's default `MaxSessions` (10), so
 * sshd never refuses a channel; more wait for a free one.
 */
export const MAX_CHANNELS = 8;
/** An idle pooled connection is closed after this long (a provider process otherwise keeps it until it exits). */
export const POOL_IDLE_MS = 30_000;

/** One pooled connection to a target (see {@link sshPool}). */
interface PooledConnection {
    readonly session: Promise<SshSession>;
    /** Commands running on it. */
    active: number;
    /** Commands waiting for a free channel. */
    readonly waiters: (() => void)[];
    /** Most commands at once: {@link MAX_CHANNELS}, lowered each time sshd refuses a channel. */
    limit: number;
    /** Closed, failed or dropped: no new command starts on it. */
    dead: boolean;
    idle?: ReturnType<typeof setTimeout>;
}

/** What the pool has done (tests and benchmarks read it). */
export interface SshPoolStats {
    /** Connections dialled. */
    dials: number;
    /** Steps run again on a new connection because theirs dropped. */
    redials: number;
    /** Channels sshd refused on a live connection (each lowers that connection's limit). */
    refusals: number;
}

interface SshPool {
    readonly connections: Map<string, PooledConnection>;
    readonly stats: SshPoolStats;
}

/**
 * The process's SSH connections, one per target (address, user, bastion and credentials), shared by every
 * step of every dynamic resource: the engine runs them all in one provider process, and Pulumi loads each
 * provider's serialized code on its own, so the pool lives on `globalThis`, not in a module variable.
 */
export function sshPool(): SshPool {
    const g = globalThis as { __k3sBuildkitSshPool?: SshPool };
    g.__k3sBuildkitSshPool ??= { connections: new Map(), stats: { dials: 0, redials: 0, refusals: 0 } };
    return g.__k3sBuildkitSshPool;
}

/** The pool's key for a target: a digest of all of it, so another key or host key pin is another connection. */
function poolKey(t: SshTarget): string {
    return createHash("sha256").update(JSON.stringify(t)).digest("hex");
}

function retire(key: string, c: PooledConnection): void {
    c.dead = true;
    if (c.idle !== undefined) clearTimeout(c.idle);
    const pool = sshPool().connections;
    if (pool.get(key) === c) pool.delete(key);
    // Waiters go back to the pool, which dials again for them.
    for (const w of c.waiters.splice(0)) w();
}

function dial(key: string, t: SshTarget): PooledConnection {
    const pool = sshPool();
    pool.stats.dials++;
    const c: PooledConnection = {
        session: connectSsh(t, { keepalive: false }).then((s) => {
            // The connection's end, however it comes (closed by the server, the network, or us), retires it.
            s.client.on("end", () => retire(key, c));
            s.client.on("close", () => retire(key, c));
            s.client.on("error", () => retire(key, c));
            return s;
        }),
        active: 0,
        waiters: [],
        limit: MAX_CHANNELS,
        dead: false,
    };
    // A failed dial leaves nothing pooled; each waiting command reports the error itself.
    c.session.catch(() => retire(key, c));
    pool.connections.set(key, c);
    return c;
}

/** A channel slot on a live pooled connection to `t`: dialled if there is none, waited for if all are busy. */
async function lease(t: SshTarget): Promise<{ session: SshSession; connection: PooledConnection; release: () => void }> {
    const key = poolKey(t);
    for (;;) {
        const existing = sshPool().connections.get(key);
        const c = existing === undefined || existing.dead ? dial(key, t) : existing;
        if (c.active >= c.limit) {
            await new Promise<void>((resolve) => c.waiters.push(resolve));
            continue;
        }
        c.active++;
        if (c.idle !== undefined) clearTimeout(c.idle);
        c.idle = undefined;
        let session: SshSession;
        try {
            session = await c.session;
        } catch (e) {
            c.active--;
            throw e;
        }
        session.ref();
        let released = false;
        const release = () => {
            if (released) return;
            released = true;
            c.active--;
            c.waiters.shift()?.();
            if (c.active > 0) return;
            // Retired while commands ran on it: closed once the last one is done.
            if (c.dead) return session.close();
            // Idle: the process may exit with it open; closed if nothing uses it for a while.
            session.unref();
            c.idle = setTimeout(() => {
                retire(key, c);
                session.close();
            }, POOL_IDLE_MS);
            c.idle.unref();
        };
        return { session, connection: c, release };
    }
}

/** Closes every pooled connection; resolves once they are closed (tests; a provider process just exits). */
export async function closeSshPool(): Promise<void> {
    const closing = [...sshPool().connections].map(async ([key, c]) => {
        retire(key, c);
        const s = await c.session.catch(() => undefined);
        if (s === undefined) return;
        const closed = new Promise<void>((resolve) => s.client.once("close", () => resolve()));
        s.close();
        await closed;
    });
    await Promise.all(closing);
}

/** A command's channel failed because its connection went away (it may have run in part: steps are idempotent). */
interface Dropped {
    readonly dropped: true;
}

/** sshd refused to open a channel on a live connection (nothing ran). */
interface Refused {
    readonly refused: true;
}

function runChannel(
    session: SshSession,
    connection: PooledConnection,
    where: string,
    commandLine: string,
    stdin: Stdin,
    onStderr?: (chunk: string) => void,
): Promise<ScriptResult> {
    const dropped = (why: string) => Object.assign(transportError(`${where}: ${why}`), { dropped: true as const });
    return new Promise<ScriptResult>((resolve, reject) => {
        const opened = (err: Error | undefined, stream: ClientChannel) => {
            if (err) {
                if (connection.dead) return reject(dropped(`the connection dropped: ${err.message}`));
                // Refused on a live connection: sshd is at its MaxSessions (lower than ours, or not done with
                // channels that just closed). The command waits for fewer channels on this connection.
                return reject(Object.assign(transportError(`${where}: cannot start a command: ${err.message}`), { refused: true }));
            }
            const out: Buffer[] = [];
            const errOut: Buffer[] = [];
            let code: number | undefined;
            stream.on("data", (d: Buffer) => out.push(d));
            stream.stderr.on("data", (d: Buffer) => {
                errOut.push(d);
                onStderr?.(d.toString("utf8"));
            });
            stream.on("exit", (exitCode: number | null) => {
                code = exitCode ?? 1;
            });
            stream.on("close", () => {
                // No exit status and the connection gone: the command was cut off, not finished.
                if (code === undefined && connection.dead) return reject(dropped("the connection dropped before the command finished"));
                resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(errOut).toString("utf8") });
            });
            // Writing to a channel whose connection has gone is not this step's error: its close says so.
            stream.on("error", () => undefined);
            feed(stdin, stream);
        };
        try {
            session.client.exec(commandLine, opened);
        } catch (e) {
            // ssh2 throws "Not connected" when the socket is already gone.
            reject(dropped(`the connection dropped: ${(e as Error).message}`));
        }
    });
}

/**
 * Runs one command over the target's pooled connection. When that connection drops before the command
 * finishes (or before its channel opens), the pool forgets it and the command runs once more on a new
 * connection: the program's scripts are idempotent, and a step fails only if the new connection fails too.
 */
async function execSsh(t: SshTarget, commandLine: string, stdin: Stdin, onStderr?: (chunk: string) => void): Promise<ScriptResult> {
    const where = targetLabel(t);
    let refusals = 0;
    let attempt = 1;
    for (;;) {
        const l = await lease(t);
        try {
            return await runChannel(l.session, l.connection, where, commandLine, stdin, onStderr);
        } catch (e) {
            if ((e as Partial<Refused>).refused === true && refusals < MAX_CHANNELS) {
                // Fewer channels at once on this connection from now on (never below one), then try again.
                refusals++;
                sshPool().stats.refusals++;
                l.connection.limit = Math.max(1, Math.min(l.connection.limit, l.connection.active - 1));
                await new Promise((r) => setTimeout(r, 50 * refusals));
                continue;
            }
            if ((e as Partial<Dropped>).dropped !== true || attempt++ >= 2) throw e;
            // Later commands get a new connection; this one closes when its other commands are done.
            retire(poolKey(t), l.connection);
            sshPool().stats.redials++;
        } finally {
            l.release();
        }
    }
}
