/** The k3s admin kubeconfig, with its server address rewritten to the address clients can reach. */
import { parse, stringify } from "yaml";

interface Kubeconfig {
    clusters?: { cluster?: { server?: string } }[];
}

/** Replaces every cluster's `server` with `https://<address>:6443` (IPv6 addresses bracketed). */
export function rewriteKubeconfig(text: string, address: string): string {
    const doc = parse(text) as Kubeconfig | null;
    if (doc === null || !Array.isArray(doc.clusters) || doc.clusters.length === 0) {
        throw new Error("the k3s kubeconfig has no clusters; is /etc/rancher/k3s/k3s.yaml complete?");
    }
    const host = address.includes(":") && !address.startsWith("[") ? `[${address}]` : address;
    for (const c of doc.clusters) {
        if (c.cluster !== undefined) c.cluster.server = `https://${host}:6443`;
    }
    return stringify(doc);
}
