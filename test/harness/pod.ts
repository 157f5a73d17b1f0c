/**
 * One container of a pod spec, run on a machine without a kubelet: the command line, environment, user
 * and volume mounts the kubelet would give it, taken from the spec as the program renders it. The
 * container's file system is the machine's own (the binaries the image would hold are installed there);
 * each volume is a directory on the machine holding what Kubernetes would put in it, bind-mounted in a
 * private mount namespace at the container's mount path (read-only where the mount says so; the root
 * read-only where `readOnlyRootFilesystem` says so). Not modelled: seccomp, AppArmor, capabilities,
 * cgroups, the network namespace (the machine's is used).
 */
import { shellQuote } from "../../components/render/shell";

/** The parts of a Kubernetes pod spec used here (plain values, as the program renders them). */
export interface PodSpecLike {
    readonly securityContext?: { readonly runAsUser?: number; readonly runAsGroup?: number; readonly fsGroup?: number };
    readonly containers: readonly ContainerLike[];
}
export interface ContainerLike {
    readonly name: string;
    readonly command?: readonly string[];
    readonly args?: readonly string[];
    readonly env?: readonly {
        readonly name: string;
        readonly value?: string;
        readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } };
    }[];
    readonly securityContext?: { readonly runAsUser?: number; readonly runAsGroup?: number; readonly readOnlyRootFilesystem?: boolean };
    readonly volumeMounts?: readonly {
        readonly name: string;
        readonly mountPath: string;
        readonly readOnly?: boolean;
        readonly subPathExpr?: string;
    }[];
    readonly terminationMessagePath?: string;
}

/** What the container image contributes: its entrypoint, environment and user. */
export interface ImageLike {
    readonly entrypoint: readonly string[];
    readonly env: Readonly<Record<string, string>>;
    readonly user?: number;
}

export interface PodRun {
    readonly podName: string;
    readonly spec: PodSpecLike;
    readonly container: string;
    readonly image: ImageLike;
    /** Volume name → directory on the machine with its content. */
    readonly volumes: Readonly<Record<string, string>>;
    /** File on the machine that receives the termination message. */
    readonly terminationLog?: string;
}

/** The container's argv, environment, user and mounts, resolved as the kubelet resolves them. */
export function resolveContainer(run: PodRun): {
    argv: string[];
    env: Record<string, string>;
    uid: number;
    gid: number;
    groups: number[];
    readOnlyRoot: boolean;
    /** `create`: a subPath the kubelet makes when it is missing. */
    mounts: { source: string; target: string; readOnly: boolean; create: boolean }[];
} {
    const c = run.spec.containers.find((x) => x.name === run.container);
    if (c === undefined) throw new Error(`no container ${run.container} in the pod spec`);
    const env: Record<string, string> = { ...run.image.env };
    for (const e of c.env ?? []) {
        if (e.value !== undefined) env[e.name] = e.value;
        else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = run.podName;
        else throw new Error(`env ${e.name}: only values and metadata.name are modelled`);
    }
    // $(VAR) in command, args and subPathExpr is expanded from the container's environment.
    const expand = (s: string) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, n: string) => env[n] ?? whole);
    const argv = (c.command !== undefined ? [...c.command, ...(c.args ?? [])] : [...run.image.entrypoint, ...(c.args ?? [])]).map(expand);
    const uid = c.securityContext?.runAsUser ?? run.spec.securityContext?.runAsUser ?? run.image.user ?? 0;
    const gid = c.securityContext?.runAsGroup ?? run.spec.securityContext?.runAsGroup ?? uid;
    const mounts = (c.volumeMounts ?? []).map((v) => {
        const dir = run.volumes[v.name];
        if (dir === undefined) throw new Error(`volume ${v.name} has no directory`);
        const sub = v.subPathExpr === undefined ? undefined : expand(v.subPathExpr);
        return {
            source: sub === undefined ? dir : `${dir}/${sub}`,
            target: v.mountPath,
            readOnly: v.readOnly === true,
            create: sub !== undefined,
        };
    });
    if (run.terminationLog !== undefined)
        mounts.push({
            source: run.terminationLog,
            target: c.terminationMessagePath ?? "/dev/termination-log",
            readOnly: false,
            create: false,
        });
    const fsGroup = run.spec.securityContext?.fsGroup;
    return {
        argv,
        env,
        uid,
        gid,
        groups: fsGroup === undefined ? [] : [fsGroup],
        readOnlyRoot: c.securityContext?.readOnlyRootFilesystem === true,
        mounts,
    };
}

/**
 * A shell script that runs the container in the foreground (exec: its exit code is the container's).
 * Run it as root on the machine.
 */
export function containerScript(run: PodRun): string {
    const r = resolveContainer(run);
    const q = shellQuote;
    const lines = ["set -eu"];
    // Mount points (a file mount needs a file), made before the root goes read-only.
    for (const m of r.mounts) {
        if (m.create) lines.push(`mkdir -p ${q(m.source)}`);
        lines.push(
            `if [ -d ${q(m.source)} ]; then mkdir -p ${q(m.target)}; else mkdir -p "$(dirname ${q(m.target)})"; [ -e ${q(m.target)} ] || : > ${q(m.target)}; fi`,
        );
    }
    // The kubelet makes the termination-message file writable by any container user (0666).
    if (run.terminationLog !== undefined) lines.push(`: > ${q(run.terminationLog)}; chmod 0666 ${q(run.terminationLog)}`);
    const inner = ["set -eu", "mount --make-rprivate /"];
    for (const m of r.mounts) {
        inner.push(`mount --bind ${q(m.source)} ${q(m.target)}`);
        if (m.readOnly) inner.push(`mount -o remount,bind,ro ${q(m.target)}`);
    }
    // Last: a bind mount takes its source mount's flags, so the volumes are mounted before the root goes read-only.
    if (r.readOnlyRoot) inner.push("mount -o remount,bind,ro /");
    const envArgs = Object.entries(r.env)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => q(`${k}=${v}`))
        .join(" ");
    const user =
        r.uid === 0 && r.gid === 0
            ? ""
            : `setpriv --reuid=${r.uid} --regid=${r.gid} ${r.groups.length > 0 ? `--groups=${r.groups.join(",")}` : "--clear-groups"} `;
    inner.push(`cd /`, `exec ${user}env -i ${envArgs} ${r.argv.map(q).join(" ")}`);
    lines.push(`exec unshare --mount -- /bin/sh -c ${q(inner.join("\n"))}`);
    return `${lines.join("\n")}\n`;
}
