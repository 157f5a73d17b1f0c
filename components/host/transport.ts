/**
 * Runs a script on a host and returns what it printed: over SSH (the `ssh2` client) or locally
 * (`child_process`). Used by the drift-detecting dynamic resources, whose create/read/update/delete
 * run inside the Pulumi engine's provider process. The script goes on stdin; the command line is
 * {@link runnerCommand}, so no parameter or secret is ever on a command line.
 */
import { spawn } from "node:child_process";
import { Client, type ConnectConfig } from "ssh2";
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
        // ssh2 keeps its TCP socket as `_sock`; unref'ing it is the only way to let the process exit.
        const tcp = (c: Client | undefined) => (c as unknown as { _sock?: { unref?: () => void } } | undefined)?._sock;
        return {
            client,
            close: () => {
                client.end();
                via?.end();
            },
            unref: () => {
                tcp(via ?? client)?.unref?.();
            },
        };
    } catch (e) {
        bastion?.end();
        throw e;
    }
}

async function execSsh(t: SshTarget, commandLine: string, stdin: Stdin, onStderr?: (chunk: string) => void): Promise<ScriptResult> {
    const where = targetLabel(t);
    const session = await connectSsh(t);
    try {
        const c = session.client;
        return await new Promise<ScriptResult>((resolve, reject) => {
            c.exec(commandLine, (err, stream) => {
                if (err) return reject(transportError(`${where}: cannot start a command: ${err.message}`));
                const out: Buffer[] = [];
                const errOut: Buffer[] = [];
                let code = 1;
                stream.on("data", (d: Buffer) => out.push(d));
                stream.stderr.on("data", (d: Buffer) => {
                    errOut.push(d);
                    onStderr?.(d.toString("utf8"));
                });
                stream.on("exit", (exitCode: number | null) => {
                    code = exitCode ?? 1;
                });
                stream.on("close", () =>
                    resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(errOut).toString("utf8") }),
                );
                feed(stdin, stream);
            });
        });
    } finally {
        session.close();
    }
}
