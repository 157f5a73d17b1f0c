/** Shared pieces of the real-host scenarios: the test stack and what is observed on a machine. */
import type { Machine } from "../harness/machine";
import type { Mirror } from "../fixtures/artifacts";

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
        // The in-cluster daemon needs a real Kubernetes API; the fixtures have none.
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
