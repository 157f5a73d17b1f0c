/**
 * k3s's `/etc/rancher/k3s/config.yaml` and `registries.yaml` from typed models, through a real YAML
 * serializer. Keys of config.yaml are the long flag names without `--` (k3s reads them as flags).
 */
import { stringify } from "yaml";

export interface K3sNodeModel {
    readonly role: "server" | "agent";
    readonly nodeName: string;
    readonly dataDir: string;
    /** Secret: the cluster join token. */
    readonly token: string;
    /** Joining nodes: `https://<first server>:6443`. Absent on the first server. */
    readonly serverUrl?: string;
    /** First server of an HA cluster: start embedded etcd. */
    readonly clusterInit: boolean;
    /** Servers only. */
    readonly tlsSans: readonly string[];
    readonly disable: readonly string[];
    readonly disableNetworkPolicy: boolean;
    readonly disableCloudController: boolean;
    readonly disableHelmController: boolean;
}

/** config.yaml. Server-only keys are left out for agents (k3s agent rejects them). */
export function renderK3sConfig(m: K3sNodeModel): string {
    const doc: Record<string, unknown> = { "node-name": m.nodeName, "data-dir": m.dataDir, token: m.token };
    if (m.serverUrl !== undefined) doc.server = m.serverUrl;
    if (m.role === "server") {
        if (m.clusterInit) doc["cluster-init"] = true;
        if (m.tlsSans.length > 0) doc["tls-san"] = [...m.tlsSans];
        if (m.disable.length > 0) doc.disable = [...m.disable];
        if (m.disableNetworkPolicy) doc["disable-network-policy"] = true;
        if (m.disableCloudController) doc["disable-cloud-controller"] = true;
        if (m.disableHelmController) doc["disable-helm-controller"] = true;
        doc["write-kubeconfig-mode"] = "0600";
    }
    return stringify(doc);
}

export interface K3sRegistryModel {
    readonly mirrors: readonly string[];
    readonly http: boolean;
    readonly insecure: boolean;
    /** Path of the CA file on the host. */
    readonly caFile?: string;
    readonly username?: string;
    /** Secret. */
    readonly password?: string;
}

/**
 * registries.yaml. A mirror's endpoint gets `http://` when that mirror is itself configured as a
 * plain-HTTP registry, else `https://`; the registry itself is the last endpoint, as containerd tries it
 * anyway.
 */
export function renderK3sRegistries(registries: Readonly<Record<string, K3sRegistryModel>>): string {
    const scheme = (host: string) => (registries[host]?.http === true ? "http" : "https");
    const mirrors: Record<string, unknown> = {};
    const configs: Record<string, unknown> = {};
    for (const host of Object.keys(registries).sort()) {
        const r = registries[host];
        if (r.mirrors.length > 0 || r.http) {
            mirrors[host] = { endpoint: [...r.mirrors, ...(r.http ? [host] : [])].map((h) => `${scheme(h)}://${h}`) };
        }
        const config: Record<string, unknown> = {};
        if (r.username !== undefined) config.auth = { username: r.username, password: r.password ?? "" };
        const tls: Record<string, unknown> = {};
        if (r.caFile !== undefined) tls.ca_file = r.caFile;
        if (r.insecure) tls.insecure_skip_verify = true;
        if (Object.keys(tls).length > 0) config.tls = tls;
        if (Object.keys(config).length > 0) configs[host] = config;
    }
    return stringify({ mirrors, configs });
}
