/**
 * The few Kubernetes API calls the build result needs (get a Job, list its pods, read or follow a
 * pod's log), over HTTPS with the credentials of a kubeconfig. Runs inside the dynamic provider, so
 * it imports nothing from Pulumi (see ../host/runner.ts).
 *
 * Supported kubeconfig users: client certificate and key (inline data, as k3s writes them) and bearer
 * tokens. `exec` and `auth-provider` users are refused with a clear message.
 */
import { request } from "node:https";
import { isIP } from "node:net";
import { checkServerIdentity } from "node:tls";
import { parse, YAMLError } from "yaml";

/**
 * Parses a kubeconfig (or any text holding credentials) as YAML. A syntax error names the line and
 * column only: the parser's own message quotes the offending line, which may be a token or a key.
 */
export function parseSecretYaml(text: string, what: string): unknown {
    try {
        return parse(text) as unknown;
    } catch (e) {
        const at = e instanceof YAMLError && e.linePos !== undefined ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : "";
        throw new Error(`${what} is not valid YAML${at}; its text is not shown because it holds credentials`);
    }
}

export interface KubeAccess {
    readonly server: string;
    readonly ca?: string;
    readonly cert?: string;
    readonly key?: string;
    readonly token?: string;
    readonly insecureSkipTlsVerify?: boolean;
    /** The name the server's certificate must carry when it differs from the server URL's host (`tls-server-name`, e.g. through a tunnel). */
    readonly serverName?: string;
}

/**
 * A failed API request or an unusable kubeconfig: a plain Error named `KubeError` (a subclass of Error
 * loses its message when dynamic-provider code is serialized into state).
 */
export function kubeError(message: string): Error {
    return Object.assign(new Error(message), { name: "KubeError" });
}

interface Named<T> {
    readonly name: string;
    readonly [k: string]: unknown;
    readonly cluster?: T;
    readonly user?: T;
    readonly context?: T;
}

const b64 = (s: unknown) => (typeof s === "string" ? Buffer.from(s, "base64").toString("utf8") : undefined);

/** The current context's server and credentials from a kubeconfig's text. */
export function kubeAccess(kubeconfig: string): KubeAccess {
    let parsed: unknown;
    try {
        parsed = parseSecretYaml(kubeconfig, "the kubeconfig");
    } catch (e) {
        throw kubeError((e as Error).message);
    }
    const doc = parsed as {
        "current-context"?: string;
        contexts?: Named<{ cluster?: string; user?: string }>[];
        clusters?: Named<Record<string, unknown>>[];
        users?: Named<Record<string, unknown>>[];
    } | null;
    if (doc === null || typeof doc !== "object") throw kubeError("the kubeconfig is not a YAML document");
    const ctxName = doc["current-context"] ?? doc.contexts?.[0]?.name;
    const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
    if (ctx === undefined) throw kubeError(`the kubeconfig has no context ${JSON.stringify(ctxName)}`);
    const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
    if (cluster === undefined || typeof cluster.server !== "string")
        throw kubeError(`the kubeconfig has no cluster ${JSON.stringify(ctx.cluster)}`);
    const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
    if (user.exec !== undefined || user["auth-provider"] !== undefined) {
        throw kubeError(
            "the kubeconfig's user authenticates with exec or auth-provider, which build results cannot use; give it a client certificate or a token",
        );
    }
    for (const k of ["client-certificate", "client-key", "certificate-authority", "tokenFile"]) {
        if ((user[k] ?? cluster[k]) !== undefined)
            throw kubeError(`the kubeconfig refers to a file (${k}); embed the data instead (${k}-data)`);
    }
    const ca = b64(cluster["certificate-authority-data"]);
    const cert = b64(user["client-certificate-data"]);
    const key = b64(user["client-key-data"]);
    const token = typeof user.token === "string" ? user.token : undefined;
    const serverName = typeof cluster["tls-server-name"] === "string" ? cluster["tls-server-name"] : undefined;
    return {
        ...(serverName === undefined ? {} : { serverName }),
        server: cluster.server.replace(/\/+$/, ""),
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
        ...(token === undefined ? {} : { token }),
        ...(cluster["insecure-skip-tls-verify"] === true ? { insecureSkipTlsVerify: true } : {}),
    };
}

function open(a: KubeAccess, path: string, onData: (chunk: Buffer) => void, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
        const url = new URL(a.server + path);
        const req = request(
            url,
            {
                method: "GET",
                ...(a.ca === undefined ? {} : { ca: a.ca }),
                ...(a.cert === undefined ? {} : { cert: a.cert }),
                ...(a.key === undefined ? {} : { key: a.key }),
                rejectUnauthorized: a.insecureSkipTlsVerify !== true,
                // tls-server-name: the certificate is checked against it (and it is the SNI, unless an IP).
                ...(a.serverName === undefined
                    ? {}
                    : {
                          ...(isIP(a.serverName) === 0 ? { servername: a.serverName } : {}),
                          checkServerIdentity: (_host: string, cert: Parameters<typeof checkServerIdentity>[1]) =>
                              checkServerIdentity(a.serverName ?? "", cert),
                      }),
                headers: { Accept: "application/json", ...(a.token === undefined ? {} : { Authorization: `Bearer ${a.token}` }) },
                timeout: timeoutMs,
            },
            (res) => {
                res.on("data", onData);
                res.on("end", () => resolve(res.statusCode ?? 0));
                res.on("error", reject);
            },
        );
        req.on("timeout", () => req.destroy(kubeError(`${url.pathname}: no answer from ${a.server} within ${timeoutMs / 1000}s`)));
        req.on("error", (e) => reject(e.name === "KubeError" ? e : kubeError(`cannot reach ${a.server}: ${e.message}`)));
        req.end();
    });
}

/** GET a path's body as text; undefined on 404, a {@link KubeError} naming the status on any other non-2xx. */
export async function kubeGetText(a: KubeAccess, path: string, timeoutMs = 30_000): Promise<string | undefined> {
    const chunks: Buffer[] = [];
    const status = await open(a, path, (c) => chunks.push(c), timeoutMs);
    const body = Buffer.concat(chunks).toString("utf8");
    if (status === 404) return undefined;
    if (status < 200 || status >= 300) {
        let message = body;
        try {
            message = (JSON.parse(body) as { message?: string }).message ?? body;
        } catch {
            // not a Status object
        }
        throw kubeError(`GET ${path}: ${status} ${message.trim()}`);
    }
    return body;
}

/** GET a path as JSON; undefined on 404. */
export async function kubeGet<T>(a: KubeAccess, path: string, timeoutMs = 30_000): Promise<T | undefined> {
    const body = await kubeGetText(a, path, timeoutMs);
    return body === undefined ? undefined : (JSON.parse(body) as T);
}

/** Follows a pod's log, calling `onLine` per line, until the stream ends (the container exits) or `timeoutMs`. */
export async function followLog(a: KubeAccess, path: string, onLine: (line: string) => void, timeoutMs: number): Promise<void> {
    let rest = "";
    await open(
        a,
        path,
        (c) => {
            const lines = (rest + c.toString("utf8")).split("\n");
            rest = lines.pop() ?? "";
            lines.forEach(onLine);
        },
        timeoutMs,
    ).catch(() => undefined);
    if (rest !== "") onLine(rest);
}
