/**
 * systemd unit files from a typed model: sections in order, each a list of key/value pairs (a key may
 * repeat). Values are written as given; the model is built by code, never from free text.
 */

export type UnitSection = readonly (readonly [key: string, value: string])[];
export type UnitModel = readonly (readonly [section: string, entries: UnitSection])[];

export function renderUnit(unit: UnitModel): string {
    return `${unit
        .map(([name, entries]) => {
            for (const [k, v] of entries) {
                if (!/^[A-Za-z]+$/.test(k) || /[\n\r]/.test(v))
                    throw new Error(`renderUnit: bad entry ${k}=${JSON.stringify(v)} in [${name}]`);
            }
            return `[${name}]\n${entries.map(([k, v]) => `${k}=${v}\n`).join("")}`;
        })
        .join("\n")}`;
}

/** Paths and names of the host BuildKit units. */
export const BUILDKIT_SOCKET_PATH = "/run/buildkit/buildkitd.sock";
export const BUILDKIT_CONFIG_PATH = "/etc/buildkit/buildkitd.toml";

/** `buildkit.socket`: the socket systemd listens on and hands to buildkitd (`--addr fd://`). */
export function buildkitSocketUnit(group: string): UnitModel {
    return [
        [
            "Unit",
            [
                ["Description", "BuildKit socket"],
                ["Documentation", "https://github.com/moby/buildkit"],
            ],
        ],
        [
            "Socket",
            [
                ["ListenStream", BUILDKIT_SOCKET_PATH],
                ["SocketMode", "0660"],
                ["SocketUser", "root"],
                ["SocketGroup", group],
                // Stopping the socket (destroy, or a socket unit change) removes the socket file.
                ["RemoveOnStop", "yes"],
            ],
        ],
        ["Install", [["WantedBy", "sockets.target"]]],
    ];
}

/** `buildkit.service`: buildkitd on k3s's containerd, socket-activated, ordered after k3s. */
/** Where the host daemon's proxy variables live (0600: a proxy URL may carry a password). */
export const BUILDKIT_ENV_PATH = "/etc/buildkit/buildkit.env";

/**
 * The command BuildKit starts with first: when the containerd namespace it last ran on differs from
 * `namespace`, its containerd worker's records (`<root>/containerd-*`) are removed. Those records name
 * snapshots of the namespace they were made in; in another one every cached step fails ("parent snapshot
 * … does not exist"). The namespace is a containerd name ([A-Za-z0-9._-]) and the root an absolute path
 * checked by the config, so neither needs quoting beyond the single quotes; `$$` is systemd's `$`.
 */
export function namespaceGuard(root: string, namespace: string): string {
    return (
        `/bin/sh -c 'marker=${root}/.containerd-namespace; ` +
        `if [ -f "$$marker" ] && [ "$$(cat "$$marker")" != ${namespace} ]; then rm -rf ${root}/containerd-*; fi; ` +
        `mkdir -p ${root} && printf "%%s\\n" ${namespace} > "$$marker"'`
    );
}

/**
 * buildkit.service; `environmentFile`: read its variables (the proxy) from {@link BUILDKIT_ENV_PATH};
 * `worker`: BuildKit's root and containerd namespace, for {@link namespaceGuard}.
 */
export function buildkitServiceUnit(k3sUnit: string, environmentFile = false, worker?: { root: string; namespace: string }): UnitModel {
    return [
        [
            "Unit",
            [
                ["Description", "BuildKit daemon (worker: k3s containerd)"],
                ["Documentation", "https://github.com/moby/buildkit"],
                ["Requires", "buildkit.socket"],
                ["After", `buildkit.socket ${k3sUnit}`],
                ["Wants", k3sUnit],
            ],
        ],
        [
            "Service",
            [
                ...(environmentFile ? [["EnvironmentFile", BUILDKIT_ENV_PATH] as [string, string]] : []),
                ...(worker === undefined ? [] : [["ExecStartPre", namespaceGuard(worker.root, worker.namespace)] as [string, string]]),
                ["ExecStart", `/usr/local/bin/buildkitd --addr fd:// --config ${BUILDKIT_CONFIG_PATH}`],
                // buildkitd exits 1 after a clean stop on SIGTERM ("got 1 SIGTERM/SIGINTs, forcing shutdown"):
                // that exit is a success, so stops and restarts do not leave the unit failed. Any exit
                // while it should run is restarted.
                ["SuccessExitStatus", "1"],
                // buildkitd opens its OpenTelemetry socket beside the main one and leaves it behind when
                // it stops (real BuildKit does; the socket unit only removes its own).
                ["ExecStopPost", "/bin/rm -f -- /run/buildkit/otel-grpc.sock"],
                ["Restart", "always"],
                ["RestartSec", "2s"],
                ["LimitNOFILE", "1048576"],
                ["Delegate", "yes"],
                ["KillMode", "process"],
            ],
        ],
        ["Install", [["WantedBy", "multi-user.target"]]],
    ];
}

/** The units of a scheduled `buildctl prune` on a host (`buildkit.prune`). */
export interface PruneSchedule {
    /** systemd calendar event (OnCalendar). */
    readonly schedule: string;
    readonly keepDurationHours: number;
    readonly keepStorageMB?: number;
}

/** `buildkit-prune.service`: one prune of the host daemon's cache through its socket. */
export function buildkitPruneServiceUnit(p: PruneSchedule): UnitModel {
    const keep = [
        `--keep-duration ${p.keepDurationHours}h`,
        ...(p.keepStorageMB === undefined ? [] : [`--keep-storage ${p.keepStorageMB}`]),
    ];
    return [
        [
            "Unit",
            [
                ["Description", "Prune BuildKit's build cache (k3s-buildkit)"],
                ["Requires", "buildkit.socket"],
                ["After", "buildkit.socket buildkit.service"],
            ],
        ],
        [
            "Service",
            [
                ["Type", "oneshot"],
                ["ExecStart", `/usr/local/bin/buildctl --addr unix://${BUILDKIT_SOCKET_PATH} prune ${keep.join(" ")}`],
            ],
        ],
    ];
}

/** `buildkit-prune.timer`: runs the prune on the schedule, catching up a run missed while the host was off. */
export function buildkitPruneTimerUnit(p: PruneSchedule): UnitModel {
    return [
        ["Unit", [["Description", "Prune BuildKit's build cache on a schedule (k3s-buildkit)"]]],
        [
            "Timer",
            [
                ["OnCalendar", p.schedule],
                ["Persistent", "true"],
                ["RandomizedDelaySec", "10min"],
            ],
        ],
        ["Install", [["WantedBy", "timers.target"]]],
    ];
}
