/** The k3s admin kubeconfig, with its server address rewritten to the address clients can reach. */
import { stringify } from "yaml";
import { parseSecretYaml } from "../builds/kube-client";

interface Kubeconfig {
    clusters?: { cluster?: { server?: string; "tls-server-name"?: string } }[];
}

/** Replaces every cluster's `server` with `https://<address>:6443` (IPv6 addresses bracketed). */
export function rewriteKubeconfig(text: string, address: string): string {
    const doc = parseSecretYaml(text, "the k3s kubeconfig") as Kubeconfig | null;
    if (doc === null || !Array.isArray(doc.clusters) || doc.clusters.length === 0) {
        throw new Error("the k3s kubeconfig has no clusters; is /etc/rancher/k3s/k3s.yaml complete?");
    }
    const host = address.includes(":") && !address.startsWith("[") ? `[${address}]` : address;
    for (const c of doc.clusters) {
        if (c.cluster !== undefined) c.cluster.server = `https://${host}:6443`;
    }
    return stringify(doc);
}

/**
 * The same kubeconfig pointed at a local tunnel: every cluster's `server` becomes
 * `https://127.0.0.1:<port>`, with `tls-server-name` set to `serverName` (a name in the API certificate's
 * SANs: the first server's apiAddress), so TLS still verifies the real server.
 */
export function tunnelKubeconfig(text: string, port: number, serverName: string): string {
    const doc = parseSecretYaml(text, "the kubeconfig") as Kubeconfig | null;
    if (doc === null || !Array.isArray(doc.clusters) || doc.clusters.length === 0) throw new Error("the kubeconfig has no clusters");
    for (const c of doc.clusters) {
        if (c.cluster === undefined) continue;
        c.cluster.server = `https://127.0.0.1:${port}`;
        c.cluster["tls-server-name"] = serverName.replace(/^\[(.*)\]$/, "$1");
    }
    return stringify(doc);
}
