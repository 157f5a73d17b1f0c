/** `/etc/nerdctl/nerdctl.toml` (seed 003's keys) through smol-toml. */
import { stringify } from "smol-toml";
import { K3S_CONTAINERD_SOCKET } from "./buildkitd-toml";

export interface NerdctlModel {
    /** containerd namespace, the same BuildKit builds into, so `nerdctl images` shows built images. */
    readonly namespace: string;
    /** Allow plain-HTTP/unverified registries (true when stack config has one). */
    readonly insecureRegistry: boolean;
}

export function renderNerdctlToml(m: NerdctlModel): string {
    return `${stringify({
        debug: false,
        debug_full: false,
        address: `unix://${K3S_CONTAINERD_SOCKET}`,
        namespace: m.namespace,
        snapshotter: "overlayfs",
        cgroup_manager: "systemd",
        hosts_dir: ["/etc/containerd/certs.d", "/etc/docker/certs.d"],
        experimental: true,
        insecure_registry: m.insecureRegistry,
    })}\n`;
}
