/**
 * REAL Kubernetes API server for the tests: kube-apiserver and etcd built from their Go modules
 * (scripts/kube-apiserver.sh, at the Kubernetes minor of the default k3s version), started on loopback
 * with certificates laid out as k3s lays them out (server/tls: server-ca, client-ca, serving-kube-apiserver,
 * client-admin in group system:masters, service.key) and the flags k3s gives it that matter to what is
 * tested: `--allow-privileged`, Node,RBAC authorization, `--anonymous-auth=false`, NodeRestriction, the
 * kubelet reached at its InternalIP first (`--kubelet-preferred-address-types`), and Pod
 * Security admission as every server has it built in (no configuration: namespaces' labels decide).
 * With `controllers`, kube-controller-manager runs too (the StatefulSet, Job, Endpoints and ServiceAccount
 * controllers, among all its defaults; not the node lifecycle controller, which would evict pods from a node
 * with no kubelet), and test/harness/node-standin.ts plays the scheduler and the kubelet of one node.
 * Without, what a controller would do for a test (a namespace's `default` ServiceAccount) the test does.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_VERSIONS } from "../../components/config";
import { type NodeStandIn, standInNode } from "./node-standin";

export interface KubeApiServer {
    /** `https://127.0.0.1:<port>`. */
    readonly url: string;
    /** The admin kubeconfig, as k3s writes k3s.yaml (inline CA, client-admin certificate and key). */
    readonly kubeconfig: string;
    /** `/version`'s gitVersion. */
    readonly version: string;
    /** An API request as the admin; the body as JSON, or text when not JSON. */
    readonly call: (method: string, path: string, body?: unknown, contentType?: string) => Promise<{ status: number; body: unknown }>;
    /** With `controllers`: the one node, whose kubelet a stand-in plays. */
    readonly node?: NodeStandIn;
    stop(): Promise<void>;
}

/** Builds (or finds cached) kube-apiserver and etcd; their directory. */
export function kubeApiServerBinaries(): string {
    return execFileSync("bash", [join(__dirname, "..", "..", "scripts", "kube-apiserver.sh"), DEFAULT_VERSIONS.k3s], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    }).trim();
}

const freePort = () =>
    new Promise<number>((resolve, reject) => {
        const s = createServer();
        s.on("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const a = s.address();
            s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
        });
    });

/**
 * k3s's server/tls layout, made with openssl: two CAs, the serving certificate, the admin client, the
 * service-account key; valid as long as k3s makes them (CAs 10 years, leaves one year), so a client whose
 * clock is moved on (the certificate renewal scenario) still trusts the server.
 */
export function k3sTls(tls: string, extraDnsNames: readonly string[] = []): void {
    mkdirSync(tls, { recursive: true });
    const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: tls, stdio: ["ignore", "ignore", "pipe"] });
    const key = (name: string) => ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`);
    const ca = (name: string) => {
        key(name);
        ssl("req", "-x509", "-new", "-key", `${name}.key`, "-out", `${name}.crt`, "-days", "3650", "-subj", `/CN=k3s-${name}@1`);
    };
    writeFileSync(
        join(tls, "ext.cnf"),
        `[serving]\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc${extraDnsNames.map((n) => `,DNS:${n}`).join("")}\nextendedKeyUsage=serverAuth\n` +
            "[client]\nextendedKeyUsage=clientAuth\n",
    );
    const leaf = (name: string, signer: string, subj: string, ext: string) => {
        key(name);
        ssl("req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", subj);
        ssl(
            "x509",
            "-req",
            "-in",
            `${name}.csr`,
            "-CA",
            `${signer}.crt`,
            "-CAkey",
            `${signer}.key`,
            "-CAcreateserial",
            "-out",
            `${name}.crt`,
            "-days",
            "365",
            "-extfile",
            "ext.cnf",
            "-extensions",
            ext,
        );
    };
    ca("server-ca");
    ca("client-ca");
    leaf("serving-kube-apiserver", "server-ca", "/CN=kube-apiserver", "serving");
    leaf("client-admin", "client-ca", "/O=system:masters/CN=system:admin", "client");
    ssl("genrsa", "-out", "service.key", "2048");
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** etcd's flags: one member on loopback, its data in `dataDir`. */
export function etcdArgs(dataDir: string, clientPort: number, peerPort: number): string[] {
    return [
        `--data-dir=${dataDir}`,
        `--listen-client-urls=http://127.0.0.1:${clientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
        "--log-level=warn",
    ];
}

/** kube-apiserver's flags as k3s gives them (those that matter here), on 127.0.0.1:`securePort`; `server` holds tls/ as k3sTls lays it out. */
export function kubeApiServerArgs(server: string, etcdPort: number, securePort: number): string[] {
    const tls = join(server, "tls");
    return [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${securePort}`,
        `--cert-dir=${join(server, "cert-dir")}`,
        `--tls-cert-file=${join(tls, "serving-kube-apiserver.crt")}`,
        `--tls-private-key-file=${join(tls, "serving-kube-apiserver.key")}`,
        `--client-ca-file=${join(tls, "client-ca.crt")}`,
        `--service-account-key-file=${join(tls, "service.key")}`,
        `--service-account-signing-key-file=${join(tls, "service.key")}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--api-audiences=https://kubernetes.default.svc.cluster.local,k3s",
        "--service-cluster-ip-range=10.43.0.0/16",
        "--allow-privileged=true",
        "--anonymous-auth=false",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
        "--profiling=false",
        "--v=0",
    ];
}

/** The admin kubeconfig as k3s writes k3s.yaml: the server CA inline, the client-admin certificate and key. */
export function adminKubeconfig(tls: string, url: string): string {
    const r = (f: string) => readFileSync(join(tls, f), "utf8");
    return `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${b64(r("server-ca.crt"))}
    server: ${url}
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: ${b64(r("client-admin.crt"))}
    client-key-data: ${b64(r("client-admin.key"))}
`;
}

/** API requests to `url` with this CA and client certificate (PEM texts); the body as JSON, or text when not JSON. */
export function apiCaller(url: string, tls: { ca: string; cert: string; key: string }): KubeApiServer["call"] {
    return (method, path, body, contentType = "application/json") =>
        new Promise((resolve, reject) => {
            const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
            const req = request(
                `${url}${path}`,
                {
                    method,
                    ca: tls.ca,
                    cert: tls.cert,
                    key: tls.key,
                    // (Content-Length: Node sends a DELETE's body without it, and the server would read none)
                    headers: {
                        Accept: "application/json",
                        ...(data === undefined ? {} : { "Content-Type": contentType, "Content-Length": Buffer.byteLength(data) }),
                    },
                    timeout: 30_000,
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => {
                        const text = Buffer.concat(chunks).toString("utf8");
                        let parsed: unknown = text;
                        try {
                            parsed = JSON.parse(text);
                        } catch {
                            // text (readyz)
                        }
                        resolve({ status: res.statusCode ?? 0, body: parsed });
                    });
                },
            );
            req.on("error", reject);
            req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer`)));
            req.end(data);
        });
}

export interface KubeApiServerOptions {
    /** Runs kube-controller-manager and one node, `k3s-server`, whose kubelet and scheduler a stand-in plays. */
    readonly controllers?: boolean;
}

/** Starts etcd and kube-apiserver (and the controllers); resolves once `/readyz` answers ok. */
export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const bin = kubeApiServerBinaries();
    const dir = mkdtempSync(join(tmpdir(), "k3sbk-apiserver-"));
    const tls = join(dir, "server", "tls");
    k3sTls(tls);
    const [client, peer, secure] = [await freePort(), await freePort(), await freePort()];
    const procs: ChildProcess[] = [];
    const logs: string[] = [];
    const start = (cmd: string, args: string[]) => {
        const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
        const keep = (d: Buffer) => {
            logs.push(d.toString("utf8"));
            if (logs.length > 400) logs.splice(0, logs.length - 400);
        };
        p.stdout?.on("data", keep);
        p.stderr?.on("data", keep);
        procs.push(p);
    };
    // A test process that dies without its after() still takes the servers with it.
    process.once("exit", () => procs.forEach((p) => p.kill("SIGKILL")));
    start(join(bin, "etcd"), etcdArgs(join(dir, "server", "db", "etcd"), client, peer));
    start(join(bin, "kube-apiserver"), kubeApiServerArgs(join(dir, "server"), client, secure));
    const r = (f: string) => readFileSync(join(tls, f), "utf8");
    const url = `https://127.0.0.1:${secure}`;
    const kubeconfig = adminKubeconfig(tls, url);
    const call = apiCaller(url, { ca: r("server-ca.crt"), cert: r("client-admin.crt"), key: r("client-admin.key") });
    let node: NodeStandIn | undefined;
    const stop = async () => {
        await node?.stop();
        for (const p of procs.reverse()) {
            p.kill("SIGTERM");
            await new Promise((res) => (p.exitCode === null ? p.once("exit", res) : res(undefined)));
        }
        rmSync(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + 120_000;
    for (;;) {
        const ready = await call("GET", "/readyz").catch(() => undefined);
        if (ready?.status === 200) break;
        if (Date.now() > deadline || procs.some((p) => p.exitCode !== null)) {
            const tail = logs.join("").split("\n").slice(-40).join("\n");
            await stop();
            throw new Error(`kube-apiserver did not become ready:\n${tail}`);
        }
        await new Promise((res) => setTimeout(res, 500));
    }
    const version = ((await call("GET", "/version")).body as { gitVersion: string }).gitVersion;
    if (options.controllers === true) {
        const kubeconfigFile = join(dir, "cred", "admin.kubeconfig");
        mkdirSync(join(dir, "cred"), { recursive: true });
        writeFileSync(kubeconfigFile, kubeconfig, { mode: 0o600 });
        start(join(bin, "kube-controller-manager"), [
            `--kubeconfig=${kubeconfigFile}`,
            `--authentication-kubeconfig=${kubeconfigFile}`,
            `--authorization-kubeconfig=${kubeconfigFile}`,
            "--bind-address=127.0.0.1",
            `--secure-port=${await freePort()}`,
            "--leader-elect=false",
            "--controllers=*,-node-lifecycle-controller",
            `--service-account-private-key-file=${join(tls, "service.key")}`,
            `--root-ca-file=${join(tls, "server-ca.crt")}`,
            `--cluster-signing-cert-file=${join(tls, "client-ca.crt")}`,
            `--cluster-signing-key-file=${join(tls, "client-ca.key")}`,
            "--use-service-account-credentials=false",
            "--concurrent-statefulset-syncs=2",
            "--profiling=false",
            "--v=0",
        ]);
        node = await standInNode(call, "k3s-server", version, {
            cert: join(tls, "serving-kube-apiserver.crt"),
            key: join(tls, "serving-kube-apiserver.key"),
        });
    }
    return { url, kubeconfig, version, call, node, stop };
}
