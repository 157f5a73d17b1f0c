/** Stand-ins for what the program reaches outside Pulumi under mocks: the API tunnel and cluster reads. */
/** Tunnels the program asked for under these mocks (no host exists, so none is dialled): target and local port. */
export const tunnelsOpened: { target: unknown; port: number }[] = [];

/** Namespaces that exist in a brought-along cluster under these mocks, with their labels (none by default). */
export const fakeNamespaces = new Map<string, Record<string, string>>();
/** Namespaces the program read under these mocks, in order. */
export const namespacesRead: string[] = [];

/** Replaces the program's API tunnel opener (components/host/tunnel.ts) with one that records the call, and its cluster reads with {@link fakeNamespaces}. */
export function fakeClusterAccess(): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { clusterReads } = require("../../components/cluster/cluster-reads") as typeof import("../../components/cluster/cluster-reads");
    clusterReads.namespaceLabels = async (_kubeconfig, ns) => {
        namespacesRead.push(ns);
        return fakeNamespaces.get(ns);
    };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { apiTunnels } = require("../../components/host/tunnel") as typeof import("../../components/host/tunnel");
    apiTunnels.open = async (target, port) => {
        tunnelsOpened.push({ target, port });
        return { port, close: () => undefined };
    };
}
