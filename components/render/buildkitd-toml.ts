/**
 * `buildkitd.toml` from a typed model, through a real TOML serializer (smol-toml). One renderer for the
 * host daemon (containerd worker on k3s's containerd) and, later, the in-cluster daemon.
 */
import { stringify } from "smol-toml";

/** k3s keeps its containerd socket here even with a custom --data-dir. */
export const K3S_CONTAINERD_SOCKET = "/run/k3s/containerd/containerd.sock";

export interface RegistryModel {
    /** Mirror hosts tried before the registry itself. */
    readonly mirrors: readonly string[];
    /** The registry speaks plain HTTP. */
    readonly http: boolean;
    /** HTTPS whose certificate is not verified. */
    readonly insecure: boolean;
    /** Paths of CA certificates (PEM) on the daemon's machine. */
    readonly caFiles: readonly string[];
}

export interface GcModel {
    readonly enabled: boolean;
    readonly reservedSpace?: string;
    readonly maxUsedSpace?: string;
    readonly minFreeSpace?: string;
}

export interface BuildkitdModel {
    readonly root: string;
    readonly debug: boolean;
    /**
     * The one worker: containerd (host daemon on k3s's containerd) or OCI (in-cluster daemon, its own
     * runc); the other is turned off.
     */
    readonly worker:
        | {
              readonly kind: "containerd";
              readonly address: string;
              readonly namespace: string;
              /** Empty: the machine's own platform. */
              readonly platforms: readonly string[];
              readonly gc: GcModel;
              /** Build steps run at once (`max-parallelism`); unset: unlimited. */
              readonly maxParallelism?: number;
          }
        | { readonly kind: "oci"; readonly platforms: readonly string[]; readonly gc: GcModel; readonly maxParallelism?: number };
    /** Build history retention (`[history]`); unset: BuildKit's defaults. */
    readonly history?: { readonly maxAgeHours: number; readonly maxEntries: number };
    /** By registry host (e.g. `docker.io`, `10.0.0.9:5000`). */
    readonly registries: Readonly<Record<string, RegistryModel>>;
    /** An escape hatch: any buildkitd.toml keys, deep-merged over the rendered ones (see {@link deepMerge}). */
    readonly extra?: Readonly<Record<string, unknown>>;
}

/** buildkitd.toml keys the program sets for each daemon, and why they may not come from an escape hatch. */
export const BUILDKITD_MANAGED_KEYS: Readonly<Record<"host" | "cluster", Readonly<Record<string, string>>>> = {
    host: {
        root: "use buildkit.root",
        "grpc.address": "the host daemon listens on the socket systemd hands it (buildkit.socket)",
        "worker.containerd.address": "the worker is k3s's containerd",
        "worker.containerd.namespace": "use buildkit.containerdNamespace",
        "worker.containerd.enabled": "the host daemon's worker is k3s's containerd",
        "worker.oci.enabled": "the host daemon's worker is k3s's containerd",
    },
    cluster: {
        root: "set by cluster.mode",
        grpc: "the in-cluster daemon listens on tcp://0.0.0.0:1234 with the program's mutual TLS",
        "worker.oci.enabled": "the in-cluster daemon's worker is OCI",
        "worker.containerd": "the in-cluster daemon has no containerd",
    },
};

/**
 * Problems with a buildkitd.toml escape hatch for `daemon`, as [dotted key, message]: a managed key (or
 * a table holding one), or a value TOML cannot hold (null).
 */
export function buildkitdExtraProblems(extra: Readonly<Record<string, unknown>>, daemon: "host" | "cluster"): [string, string][] {
    const managed = BUILDKITD_MANAGED_KEYS[daemon];
    const out: [string, string][] = [];
    const walk = (v: unknown, path: string[]): void => {
        const key = path.join(".");
        const why = managed[key];
        if (why !== undefined) {
            out.push([key, `"${key}" is managed by the program: ${why}`]);
            return;
        }
        if (v === null) {
            out.push([key, "TOML has no null: remove the key, or give it a value"]);
            return;
        }
        if (Array.isArray(v)) {
            // An array of tables ([[worker.containerd.gcpolicy]]): each table's keys, as key[i].
            v.forEach((x, i) => (typeof x === "object" ? walk(x, [...path.slice(0, -1), `${path[path.length - 1]}[${i}]`]) : undefined));
        } else if (typeof v === "object") {
            // A whole table that holds a managed key (e.g. [grpc] with address) is refused at that key.
            for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
        }
    };
    for (const [k, v] of Object.entries(extra)) walk(v, [k]);
    return out;
}

/** Whether a buildkitd.toml escape hatch brings its own GC rules for `worker` (`worker.<worker>.gcpolicy`). */
export function hasOwnGcPolicy(extra: Readonly<Record<string, unknown>> | undefined, worker: "containerd" | "oci"): boolean {
    const w = (extra?.worker as Record<string, Record<string, unknown> | undefined> | undefined)?.[worker];
    return typeof w === "object" && w !== null && w.gcpolicy !== undefined;
}

/** Deep merge: tables merge key by key; anything else (values, arrays, arrays of tables) in `over` replaces. */
export function deepMerge(base: Readonly<Record<string, unknown>>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...base };
    const isTable = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
    for (const [k, v] of Object.entries(over)) {
        const prev = out[k];
        out[k] = isTable(prev) && isTable(v) ? deepMerge(prev, v) : v;
    }
    return out;
}

/** Renders the model. Keys in a fixed order, registries sorted by host; only set keys are written. */
export function renderBuildkitdToml(m: BuildkitdModel): string {
    const w = m.worker;
    const worker: Record<string, unknown> = { enabled: true };
    if (w.kind === "containerd") {
        worker.address = w.address;
        worker.namespace = w.namespace;
    }
    if (w.platforms.length > 0) worker.platforms = [...w.platforms];
    if (w.maxParallelism !== undefined) worker["max-parallelism"] = w.maxParallelism;
    worker.gc = w.gc.enabled;
    for (const k of ["reservedSpace", "maxUsedSpace", "minFreeSpace"] as const) {
        const v = w.gc[k];
        if (w.gc.enabled && v !== undefined) worker[k] = v;
    }
    const workers =
        w.kind === "containerd" ? { oci: { enabled: false }, containerd: worker } : { oci: worker, containerd: { enabled: false } };
    const registry: Record<string, Record<string, unknown>> = {};
    for (const host of Object.keys(m.registries).sort()) {
        const r = m.registries[host];
        const section: Record<string, unknown> = {};
        if (r.mirrors.length > 0) section.mirrors = [...r.mirrors];
        if (r.http) section.http = true;
        if (r.insecure) section.insecure = true;
        if (r.caFiles.length > 0) section.ca = [...r.caFiles];
        if (Object.keys(section).length > 0) registry[host] = section;
    }
    const doc: Record<string, unknown> = { debug: m.debug, root: m.root, worker: workers };
    if (m.history !== undefined) doc.history = { maxAge: `${m.history.maxAgeHours}h`, maxEntries: m.history.maxEntries };
    if (Object.keys(registry).length > 0) doc.registry = registry;
    return `${stringify(m.extra === undefined ? doc : deepMerge(doc, m.extra))}\n`;
}
