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
          }
        | { readonly kind: "oci"; readonly platforms: readonly string[]; readonly gc: GcModel };
    /** By registry host (e.g. `docker.io`, `10.0.0.9:5000`). */
    readonly registries: Readonly<Record<string, RegistryModel>>;
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
    if (Object.keys(registry).length > 0) doc.registry = registry;
    return `${stringify(doc)}\n`;
}
