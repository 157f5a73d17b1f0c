/** Shared pieces of the real-host scenarios: the test stack and what is observed on a machine. */
import type { Machine } from "../harness/machine";
import type { Mirror } from "../fixtures/artifacts";

/**
 * `k3s kubectl` as the scenarios run it themselves on a machine: its discovery cache in /run (kubectl's
 * default, ~/.kube/cache, is on the machine's disk, where the before/after comparisons would find it).
 */
export const K3S_KUBECTL = "KUBECACHEDIR=/run/k3sbk-test-kubectl k3s kubectl";

/**
 * The test stack: the first machine is the server (reached as the sudo user `builder`), the others
 * agents (reached as root), all on 127.0.0.1 with pinned host keys; every download URL points at the
 * local mirror.
 */
export function stackFor(machines: readonly Machine[], mirror: Mirror, over: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        sshPrivateKey: machines[0].clientKey.privateKey,
        hosts: machines.map((m, i) => ({
            name: i === 0 ? "server-1" : `agent-${i}`,
            role: i === 0 ? "server" : "agent",
            address: "127.0.0.1",
            port: m.port,
            user: i === 0 ? "builder" : "root",
            hostKey: m.hostKey,
        })),
        k3s: { installScriptUrl: mirror.installScriptUrl, binaryBaseUrl: mirror.k3sBaseUrl, readyTimeoutSeconds: 60 },
        buildkit: { downloadBaseUrl: mirror.buildkitBaseUrl },
        nerdctl: { downloadBaseUrl: mirror.nerdctlBaseUrl },
        registries: { "docker.io": { mirrors: ["mirror-a.example.com"] } },
        // The fixture k3s's API is real, but no kubelet runs the in-cluster daemon's pods.
        cluster: { enabled: false },
        ...over,
    };
}

/**
 * Everything on the machine a run could change: files (path, mode, owner, size, mtime), symlinks,
 * directories, unit files with their state, users. Left out: kernel/runtime file systems, logs, caches,
 * systemd's and Debian containerd's own state, and sudo's first-use marker. Under /data (k3s's data
 * dir and BuildKit's root, written by running daemons) only paths are listed.
 */
export async function hostState(m: Machine): Promise<string> {
    return m.exec(
        `{ find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp -o -path /var/log \\
  -o -path /var/cache -o -path /var/lib/systemd -o -path /var/lib/containerd -o -path /data -o -name .sudo_as_admin_successful \\) -prune \\
  -o -type f -printf '%p %m %U %s %T@\\n' -o -type l -printf '%p -> %l\\n' -o -type d -printf '%p/\\n'
  if [ -d /data ]; then find /data -printf '%p\\n'; fi
  systemctl list-unit-files --no-legend --no-pager
  getent passwd | cut -d: -f1; } | sort`,
    );
}

/** `enabled active` (or what systemd says) per unit. */
export async function unitState(m: Machine, units: readonly string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const u of units) {
        out[u] = (await m.exec(`echo "$(systemctl is-enabled ${u} || true) $(systemctl is-active ${u} || true)"`)).trim();
    }
    return out;
}

/** Lines only in `before` and only in `after` (for readable failures when comparing host states). */
export function stateDiff(before: string, after: string): { removed: string[]; added: string[] } {
    const a = before.split("\n");
    const b = after.split("\n");
    return { removed: a.filter((l) => !b.includes(l)), added: b.filter((l) => !a.includes(l)) };
}

/** Something the cluster's API did to a node, or a k3s fixture's record of its own k3s; `t` in epoch seconds. */
export interface ClusterEvent {
    readonly t: number;
    readonly verb: string;
    readonly node: string;
    readonly rest: string;
}

/** A k3s fixture's own records (/var/log/k3s-fixture.log): start, ready, stop, serve, snapshot. */
export function fixtureEvents(text: string): ClusterEvent[] {
    return text
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => {
            const [t, verb, node, ...rest] = l.split(" ");
            return { t: Number(t), verb, node, rest: rest.join(" ") };
        });
}

interface AuditEvent {
    readonly verb: string;
    readonly requestURI: string;
    readonly objectRef?: { readonly resource?: string; readonly subresource?: string; readonly name?: string };
    readonly responseStatus?: { readonly code?: number };
    readonly requestObject?: {
        readonly spec?: { readonly unschedulable?: boolean | null };
        readonly status?: { readonly nodeInfo?: { readonly kubeletVersion?: string } };
    };
    readonly stageTimestamp: string;
}

/**
 * What the cluster's API did to nodes, read from kube-apiserver's audit log (the k3s fixture's policy: node
 * writes and pod listings), successful requests only: `join` (a node reporting itself Ready; `rest` is its
 * kubelet version), `drain` (kubectl drain listing the node's pods), `evict` (`node` is the pod), `cordon`,
 * `uncordon`, `delete`.
 */
export function auditEvents(text: string): ClusterEvent[] {
    const events: ClusterEvent[] = [];
    for (const line of text.split("\n")) {
        if (line === "") continue;
        const e = JSON.parse(line) as AuditEvent;
        if ((e.responseStatus?.code ?? 0) >= 300) continue;
        const t = Date.parse(e.stageTimestamp) / 1000;
        const { resource, subresource, name = "" } = e.objectRef ?? {};
        const drained = /[?&]fieldSelector=spec\.nodeName%3D([^&]+)/.exec(e.requestURI);
        if (resource === "pods" && e.verb === "list" && drained !== null) {
            events.push({ t, verb: "drain", node: decodeURIComponent(drained[1]), rest: "" });
        } else if (resource === "nodes" && subresource === "status" && e.verb === "patch") {
            events.push({ t, verb: "join", node: name, rest: e.requestObject?.status?.nodeInfo?.kubeletVersion ?? "" });
        } else if (resource === "nodes" && subresource === undefined && e.verb === "patch") {
            events.push({ t, verb: e.requestObject?.spec?.unschedulable === true ? "cordon" : "uncordon", node: name, rest: "" });
        } else if (resource === "pods" && subresource === "eviction" && e.verb === "create") {
            events.push({ t, verb: "evict", node: name, rest: "" });
        } else if (resource === "nodes" && subresource === undefined && e.verb === "delete") {
            events.push({ t, verb: "delete", node: name, rest: "" });
        }
    }
    return events;
}
