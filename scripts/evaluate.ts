/**
 * Offline evaluation of the program under `pulumi.runtime.setMocks`, recording every resource
 * registration (type, name, inputs as the engine would receive them, provider, parent, dependencies).
 * Used by the tests, `npm run render` and `npm run bench`. Fake outputs stand in for what hosts report.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { repositoryOf } from "../components/builds/buildctl";
import { PROJECT } from "../components/config";

export interface Recorded {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
    readonly custom: boolean;
    /** Provider reference (`urn::id`) when one was passed explicitly. */
    readonly provider?: string;
}

/** The marker Pulumi puts on a secret value crossing the RPC boundary (what the engine would store encrypted). */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Whether a recorded input value arrived as a secret. */
export function isSecretValue(v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270";
}

/** A k3s admin kubeconfig as the server writes it (fake credentials). */
export const FAKE_K3S_KUBECONFIG = `apiVersion: v1
clusters:
  - cluster:
      certificate-authority-data: Q0E=
      server: https://127.0.0.1:6443
    name: default
contexts:
  - context:
      cluster: default
      user: default
    name: default
current-context: default
kind: Config
users:
  - name: default
    user:
      client-certificate-data: Q0VSVA==
      client-key-data: S0VZ
`;

/** Fake provider outputs for resources whose outputs the program reads, as the real steps print them. */
function fakeOutputs(type: string, name: string, arch: string, inputs: Record<string, unknown>): Record<string, unknown> {
    if (type === "pulumi-nodejs:dynamic/k3s-buildkit:BuildResult" || type === "pulumi-nodejs:dynamic/k3s-buildkit:HostBuild") {
        // What the build's metadata would report: a digest of the build's identity.
        const names = (type.endsWith("BuildResult") ? inputs.tags : inputs.images) as string[];
        const digest = `sha256:${createHash("sha256")
            .update(String(inputs.jobName ?? inputs.contextHash))
            .digest("hex")}`;
        return { digest, ref: `${repositoryOf(names[0])}@${digest}`, names, present: true };
    }
    if (type === "pulumi-nodejs:dynamic/k3s-buildkit:K3sToken") return { result: "fake-k3s-token" };
    if (type === "tls:index/privateKey:PrivateKey")
        return { privateKeyPem: `-----BEGIN PRIVATE KEY-----\nfake-${name}\n-----END PRIVATE KEY-----\n` };
    if (type === "tls:index/certRequest:CertRequest")
        return { certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\nfake-${name}\n-----END CERTIFICATE REQUEST-----\n` };
    if (type === "tls:index/selfSignedCert:SelfSignedCert" || type === "tls:index/locallySignedCert:LocallySignedCert") {
        // K3SBK_FAKE_CERT_SERIAL stands in for a renewal: another certificate from the same inputs.
        return {
            certPem: `-----BEGIN CERTIFICATE-----\nfake-${name}${process.env.K3SBK_FAKE_CERT_SERIAL ?? ""}\n-----END CERTIFICATE-----\n`,
        };
    }
    if (type !== "pulumi-nodejs:dynamic/k3s-buildkit:HostStep") return {};
    const stdout = name.endsWith("-preflight")
        ? `arch=${arch}\n`
        : name.endsWith("-kubeconfig")
          ? FAKE_K3S_KUBECONFIG
          : name.endsWith("-k3s-install")
            ? `k3s_sha256=${"a".repeat(64)}\n`
            : name.endsWith("-buildkit-install")
              ? `buildkit_sha256=${"b".repeat(64)}\n`
              : name.endsWith("-nerdctl-install")
                ? `nerdctl_sha256=${"c".repeat(64)}\n`
                : "";
    return { stdout };
}

/** Installs recording mocks; returns the list that fills as resources register. */
export async function recordingMocks(preview = false, arch = "amd64"): Promise<Recorded[]> {
    const recorded: Recorded[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                recorded.push({
                    type: args.type,
                    name: args.name,
                    inputs: args.inputs as Record<string, unknown>,
                    custom: args.custom ?? true,
                    ...(args.provider === undefined || args.provider === "" ? {} : { provider: args.provider }),
                });
                return {
                    id: preview ? undefined : `${args.name}-id`,
                    state: {
                        ...(args.inputs as Record<string, unknown>),
                        ...(preview ? {} : fakeOutputs(args.type, args.name, arch, args.inputs as Record<string, unknown>)),
                    },
                };
            },
            call() {
                return {};
            },
        },
        PROJECT,
        "test",
        preview,
    );
    return recorded;
}

/** Waits until no new resource has registered for `rounds` × 30 ms (all applies have run). */
export async function settle(recorded: readonly unknown[], rounds = 10): Promise<void> {
    let last = -1;
    let stable = 0;
    while (stable < rounds) {
        await new Promise((r) => setTimeout(r, 30));
        if (recorded.length === last) stable++;
        else {
            stable = 0;
            last = recorded.length;
        }
    }
}

/** Resolves an Output's value (undefined when unknown) and whether it is secret. */
export async function resolve<T>(o: pulumi.Output<T>): Promise<{ value: T | undefined; secret: boolean }> {
    const value = await new Promise<T | undefined>((r) => o.apply((v) => r(v)));
    return { value, secret: await pulumi.isSecret(o) };
}

/** Tunnels the program asked for under these mocks (no host exists, so none is dialled): target and local port. */
export const tunnelsOpened: { target: unknown; port: number }[] = [];

/** Namespaces that exist in a brought-along cluster under these mocks, with their labels (none by default). */
export const fakeNamespaces = new Map<string, Record<string, string>>();
/** Namespaces the program read under these mocks, in order. */
export const namespacesRead: string[] = [];

/** Replaces the program's API tunnel opener (components/host/tunnel.ts) with one that records the call, and its cluster reads with {@link fakeNamespaces}. */
function fakeClusterAccess(): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { clusterReads } = require("../components/cluster/cluster-reads") as typeof import("../components/cluster/cluster-reads");
    clusterReads.namespaceLabels = async (_kubeconfig, ns) => {
        namespacesRead.push(ns);
        return fakeNamespaces.get(ns);
    };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { apiTunnels } = require("../components/host/tunnel") as typeof import("../components/host/tunnel");
    apiTunnels.open = async (target, port) => {
        tunnelsOpened.push({ target, port });
        return { port, close: () => undefined };
    };
}

/** Sets stack config as the CLI would: `k3s-buildkit:<key>` → string (objects as JSON). */
export function setStackConfig(values: Record<string, unknown>, secretKeys: readonly string[] = []): void {
    const all = Object.fromEntries(
        Object.entries(values).map(([k, v]) => [`${PROJECT}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
    );
    pulumi.runtime.setAllConfig(
        all,
        secretKeys.map((k) => `${PROJECT}:${k}`),
    );
}

/**
 * Evaluates index.ts afresh (a new module instance) with the given config; returns the registrations, and
 * its exports or the error it threw (so a test can see what was registered before a failure: nothing).
 */
export async function tryProgram(
    values: Record<string, unknown>,
    secretKeys: readonly string[] = [],
    preview = false,
    /** Reload only index.ts, keeping the compiled components (they hold no state): much faster, for many runs. */
    entryOnly = false,
): Promise<{ recorded: Recorded[]; exports?: Record<string, unknown>; error?: Error }> {
    const recorded = await recordingMocks(preview);
    setStackConfig(values, secretKeys);
    for (const key of Object.keys(require.cache)) {
        const ours = !key.includes("node_modules") && (key.endsWith("/index.ts") || (!entryOnly && key.includes("/components/")));
        if (ours) delete require.cache[key];
    }
    fakeClusterAccess();
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const exports = require("../index") as Record<string, unknown>;
        await settle(recorded);
        return { recorded, exports };
    } catch (e) {
        await settle(recorded);
        return { recorded, error: e as Error };
    }
}

/** Evaluates index.ts afresh with the given config; returns its exports and the registrations; throws what it throws. */
export async function runProgram(
    values: Record<string, unknown>,
    secretKeys: readonly string[] = [],
    preview = false,
): Promise<{ recorded: Recorded[]; exports: Record<string, unknown> }> {
    const r = await tryProgram(values, secretKeys, preview);
    if (r.error !== undefined) throw r.error;
    return { recorded: r.recorded, exports: r.exports ?? {} };
}

/** A registration with its options as the program set them: parent and explicit dependencies, by name. */
export interface RecordedWithDeps extends Recorded {
    /**
     * The resource's URN as the Pulumi engine forms it (its identity in state): stack, project, the types
     * of every ancestor and its own joined by `$`, name. (The mock monitor's own URNs keep only the
     * parent's type, so this is computed from the recorded parent chain.)
     */
    readonly urn: string;
    /** Alias URNs the resource declares (`aliases` given as URNs, resolved). */
    readonly aliases: readonly string[];
    readonly parent?: string;
    readonly dependsOn: string[];
    /** Properties the engine leaves alone on update (`ignoreChanges`). */
    readonly ignoreChanges: string[];
}

/** The resource name at the end of a URN. */
const urnName = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);

/**
 * Evaluates the platform for the given config through a `Platform`, with a transformation on every
 * top-level component (and so on every child) recording each resource's parent and `dependsOn`.
 */
export async function runPlatform(
    values: Record<string, unknown>,
    secretKeys: readonly string[] = [],
    preview = false,
    arch = "amd64",
    settleRounds = 10,
): Promise<{ recorded: RecordedWithDeps[]; platform: import("../components/platform").Platform }> {
    const recorded = await recordingMocks(preview, arch);
    setStackConfig(values, secretKeys);
    fakeClusterAccess();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { loadStackConfig } = require("../components/config") as typeof import("../components/config");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Platform } = require("../components/platform") as typeof import("../components/platform");
    const options = new Map<
        string,
        {
            parent?: pulumi.Resource;
            parentKey?: string;
            dependsOn: pulumi.Resource[];
            ignoreChanges: string[];
            aliases: pulumi.Input<string>[];
        }
    >();
    const keyOf = (r: pulumi.Resource) => {
        const internal = r as unknown as { __pulumiType: string; __name: string };
        return `${internal.__pulumiType}::${internal.__name}`;
    };
    const platform = new Platform("k3s-buildkit", loadStackConfig(), {
        transformations: [
            (a) => {
                const deps = a.opts.dependsOn;
                options.set(`${a.type}::${a.name}`, {
                    aliases: (a.opts.aliases ?? []).filter(
                        (x) => typeof x === "string" || pulumi.Output.isInstance(x),
                    ) as pulumi.Input<string>[],
                    parent: a.opts.parent,
                    ...(a.opts.parent === undefined ? {} : { parentKey: keyOf(a.opts.parent) }),
                    dependsOn: (Array.isArray(deps) ? deps : deps === undefined ? [] : [deps]) as pulumi.Resource[],
                    ignoreChanges: a.opts.ignoreChanges ?? [],
                });
                return undefined;
            },
        ],
    });
    await settle(recorded, settleRounds);
    const nameOf = async (r: pulumi.Resource) => urnName((await resolve(r.urn)).value ?? "");
    const withDeps: RecordedWithDeps[] = [];
    const qualifiedType = (key: string): string => {
        const parentKey = options.get(key)?.parentKey;
        const type = key.slice(0, key.lastIndexOf("::"));
        return parentKey === undefined ? type : `${qualifiedType(parentKey)}$${type}`;
    };
    for (const r of recorded) {
        const key = `${r.type}::${r.name}`;
        const o = options.get(key);
        const parent = o?.parent === undefined ? undefined : await nameOf(o.parent);
        withDeps.push({
            ...r,
            urn: `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${qualifiedType(key)}::${r.name}`,
            aliases: await Promise.all((o?.aliases ?? []).map(async (x) => (await resolve(pulumi.output(x))).value ?? "")),
            ...(parent === undefined ? {} : { parent }),
            dependsOn: (await Promise.all((o?.dependsOn ?? []).map(nameOf))).sort(),
            ignoreChanges: o?.ignoreChanges ?? [],
        });
    }
    return { recorded: withDeps, platform };
}

/** Resource names whose recorded inputs differ between two runs, and those only in either (keyed by type and name). */
export function diffRuns(a: readonly Recorded[], b: readonly Recorded[]): { changed: string[]; added: string[]; removed: string[] } {
    const key = (r: Recorded) => `${r.name} ${r.type}`;
    const ma = new Map(a.map((r) => [key(r), JSON.stringify(r.inputs)]));
    const mb = new Map(b.map((r) => [key(r), JSON.stringify(r.inputs)]));
    const names = (keys: string[]) => keys.map((k) => k.split(" ")[0]).sort();
    return {
        changed: names([...ma.keys()].filter((k) => mb.has(k) && mb.get(k) !== ma.get(k))),
        added: names([...mb.keys()].filter((k) => !ma.has(k))),
        removed: names([...ma.keys()].filter((k) => !mb.has(k))),
    };
}

/** When a step runs in {@link schedule}: it starts at `start` and has finished by `end` (`end - start` is 0 or 1). */
export interface Slot {
    readonly start: number;
    readonly end: number;
    /** The resource's inputs changed (or it is new): a step runs on a host. */
    readonly runs: boolean;
}

/**
 * How the engine orders an update from run `a` to run `b` (a fresh install when `a` is empty): each
 * resource of `b` waits for everything it depends on (explicit `dependsOn`; a component stands for all its
 * descendants), then takes one unit of time if its inputs changed or it is new, none if not (an unchanged
 * resource still passes the wait on, as its registration waits for its dependencies). Implicit
 * dependencies through outputs are not modelled: the program states every ordering it relies on in
 * `dependsOn`. Returns each resource's slot by name.
 */
export function schedule(a: readonly RecordedWithDeps[], b: readonly RecordedWithDeps[]): Map<string, Slot> {
    const before = new Map(a.map((r) => [`${r.type} ${r.name}`, JSON.stringify(r.inputs)]));
    const children = new Map<string, RecordedWithDeps[]>();
    for (const r of b) if (r.parent !== undefined) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    // Components are known here by name only, and a host's components share its name: a dependency on one
    // waits for all of them (an over-approximation that never hides an ordering).
    const descendants = (name: string): RecordedWithDeps[] => (children.get(name) ?? []).flatMap((c) => [c, ...descendants(c.name)]);
    const byName = new Map<string, RecordedWithDeps[]>();
    for (const r of b) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
    const slots = new Map<string, Slot>();
    const visiting = new Set<string>();
    const slotOf = (r: RecordedWithDeps): Slot => {
        const key = `${r.type} ${r.name}`;
        const known = slots.get(key);
        if (known !== undefined) return known;
        if (visiting.has(key)) throw new Error(`dependency cycle through ${r.name}`);
        visiting.add(key);
        let start = 0;
        for (const d of r.dependsOn) {
            for (const dep of byName.get(d) ?? []) {
                for (const x of [dep, ...descendants(dep.name)]) if (x !== r) start = Math.max(start, slotOf(x).end);
            }
        }
        const runs = before.get(key) !== JSON.stringify(r.inputs);
        const slot = { start, end: start + (runs ? 1 : 0), runs };
        slots.set(key, slot);
        return slot;
    };
    const out = new Map<string, Slot>();
    for (const r of b) {
        const s = slotOf(r);
        if (!r.type.startsWith("k3s-buildkit:") || !out.has(r.name)) out.set(r.name, s);
    }
    return out;
}

/**
 * k3s restart windows in a {@link schedule}: per node whose k3s unit restarts (or starts), from its restart
 * step's start to the end of its ready step; and the most windows open at one time.
 */
export function restartWindows(
    slots: Map<string, Slot>,
    nodes: readonly string[],
): { windows: Record<string, [number, number]>; maxAtOnce: number } {
    const windows: Record<string, [number, number]> = {};
    for (const n of nodes) {
        const restart = slots.get(`${n}-k3s`);
        const ready = slots.get(`${n}-k3s-ready`);
        if (restart?.runs === true && ready !== undefined) windows[n] = [restart.start, ready.end];
    }
    let maxAtOnce = 0;
    for (const [s] of Object.values(windows)) {
        maxAtOnce = Math.max(maxAtOnce, Object.values(windows).filter(([s2, e2]) => s2 <= s && s < e2).length);
    }
    return { windows, maxAtOnce };
}
