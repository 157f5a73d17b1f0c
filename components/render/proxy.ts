/** Proxy environment variables for each consumer, from the stack's proxy settings. Pure. */
export interface ProxyModel {
    readonly http?: string;
    readonly https?: string;
    readonly noProxy: readonly string[];
}

/** k3s's default pod and service networks (changed with cluster-cidr / service-cidr). */
export const K3S_DEFAULT_CIDRS = { cluster: "10.42.0.0/16", service: "10.43.0.0/16" } as const;

/**
 * NO_PROXY: loopback, the cluster's pod and service networks, in-cluster names and every host's
 * addresses (nodes talk to each other and to the API directly), then the stack's own entries; no duplicates.
 */
export function noProxyList(
    p: ProxyModel,
    facts: { readonly cidrs: readonly string[]; readonly hostAddresses: readonly string[] },
): string[] {
    return [...new Set(["localhost", "127.0.0.1", "::1", ...facts.cidrs, ".svc", ".cluster.local", ...facts.hostAddresses, ...p.noProxy])];
}

/**
 * The variables for one consumer: HTTP_PROXY/HTTPS_PROXY/NO_PROXY, with `lowercase` also the forms curl
 * and Go read in lower case, with `containerd` the CONTAINERD_* forms k3s gives its containerd.
 */
export function proxyVariables(
    p: ProxyModel,
    noProxy: readonly string[],
    forms: { readonly lowercase?: boolean; readonly containerd?: boolean } = {},
): Record<string, string> {
    const base: Record<string, string> = {
        ...(p.http === undefined ? {} : { HTTP_PROXY: p.http }),
        ...(p.https === undefined ? {} : { HTTPS_PROXY: p.https }),
        NO_PROXY: noProxy.join(","),
    };
    const out: Record<string, string> = { ...base };
    for (const [k, v] of Object.entries(base)) {
        if (forms.lowercase === true) out[k.toLowerCase()] = v;
        if (forms.containerd === true) out[`CONTAINERD_${k}`] = v;
    }
    return out;
}

/** An environment file (systemd EnvironmentFile= syntax): KEY="value" lines, values double-quoted and escaped. */
export function renderEnvFile(vars: Readonly<Record<string, string>>): string {
    return Object.entries(vars)
        .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"\n`)
        .join("");
}
