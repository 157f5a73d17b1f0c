/** `/etc/nerdctl/nerdctl.toml` (seed 003's keys) through smol-toml. */
import { stringify } from "smol-toml";
import { K3S_CONTAINERD_SOCKET } from "./buildkitd-toml";

export interface NerdctlModel {
    /** containerd namespace, the same BuildKit builds into, so `nerdctl images` shows built images. */
    readonly namespace: string;
    /** Allow plain-HTTP/unverified registries (true when stack config has one). */
    readonly insecureRegistry: boolean;
    /** k3s's data dir: k3s writes registries.yaml's mirrors, auth and CAs as hosts.toml under `<dataDir>/agent/etc/containerd/certs.d`. */
    readonly k3sDataDir: string;
}

/** Where k3s writes containerd's per-registry hosts.toml files (from registries.yaml). */
export const k3sCertsDir = (dataDir: string) => `${dataDir}/agent/etc/containerd/certs.d`;

export function renderNerdctlToml(m: NerdctlModel): string {
    return `${stringify({
        debug: false,
        debug_full: false,
        address: `unix://${K3S_CONTAINERD_SOCKET}`,
        namespace: m.namespace,
        snapshotter: "overlayfs",
        cgroup_manager: "systemd",
        // k3s's own first, so nerdctl pull/push use the same mirrors and CAs as k3s.
        hosts_dir: [k3sCertsDir(m.k3sDataDir), "/etc/containerd/certs.d", "/etc/docker/certs.d"],
        experimental: true,
        insecure_registry: m.insecureRegistry,
    })}\n`;
}
