/** The stack's proxy settings as each consumer on a host needs them (downloads, k3s, BuildKit). */
import type { ResolvedConfig } from "../config";
import { K3S_DEFAULT_CIDRS, noProxyList, proxyVariables } from "../render/proxy";

/**
 * The proxy variables per consumer (none without `proxy`): downloads (curl reads the lower-case forms too),
 * k3s (its .env, with the CONTAINERD_* forms k3s documents), BuildKit (Go reads both cases). NO_PROXY
 * covers loopback, the pod and service networks (k3s's defaults, or cluster-cidr / service-cidr from its
 * config escape hatches), in-cluster names and every host's addresses.
 */
export function stackProxy(settings: ResolvedConfig): {
    download: Record<string, string>;
    k3s: Record<string, string>;
    buildkit: Record<string, string>;
} {
    const p = settings.proxy;
    if (p === undefined) return { download: {}, k3s: {}, buildkit: {} };
    const cidr = (key: string, fallback: string) => {
        const v = settings.k3s.serverConfig[key] ?? settings.k3s.extraConfig[key];
        return typeof v === "string" ? v : fallback;
    };
    const addresses = settings.hosts.flatMap((h) => [h.apiAddress, ...(h.connection.kind === "ssh" ? [h.connection.host] : [])]);
    const noProxy = noProxyList(p, {
        cidrs: [cidr("cluster-cidr", K3S_DEFAULT_CIDRS.cluster), cidr("service-cidr", K3S_DEFAULT_CIDRS.service)],
        hostAddresses: addresses,
    });
    return {
        download: proxyVariables(p, noProxy, { lowercase: true }),
        k3s: proxyVariables(p, noProxy, { lowercase: true, containerd: true }),
        buildkit: proxyVariables(p, noProxy, { lowercase: true }),
    };
}
