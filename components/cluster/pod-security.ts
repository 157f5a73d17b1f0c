/**
 * The Kubernetes Pod Security Standards (kubernetes.io/docs/concepts/security/pod-security-standards,
 * v1.33), as a table of checks per level: which level a pod spec meets. Pod Security admission refuses a
 * pod whose level is above its namespace's `pod-security.kubernetes.io/enforce` label allows; the daemon's
 * namespace is labelled with the level its pods need (computed here, so the two cannot drift). Pure.
 */
import type * as k8s from "@pulumi/kubernetes";

export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

type PodSpec = k8s.types.input.core.v1.PodSpec;
type Container = k8s.types.input.core.v1.Container;
type Plain<T> = T extends object ? { [K in keyof T]?: unknown } : T;

const BASELINE_CAPABILITIES = new Set([
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
]);
const SAFE_SYSCTLS = new Set([
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
]);
const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]);
const RESTRICTED_VOLUMES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

interface Sec {
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    runAsNonRoot?: boolean;
    runAsUser?: number;
    capabilities?: { add?: string[]; drop?: string[] };
    seccompProfile?: { type?: string };
    appArmorProfile?: { type?: string };
    seLinuxOptions?: { type?: string; user?: string; role?: string };
    procMount?: string;
}

/** Every violation of `level`'s controls (baseline includes nothing of restricted; restricted includes baseline). */
export function podSecurityViolations(spec: Plain<PodSpec>, level: Exclude<PodSecurityLevel, "privileged">): string[] {
    const out: string[] = [];
    const podSec = (spec.securityContext ?? {}) as Sec & { sysctls?: { name: string }[] };
    const containers = [
        ...((spec.initContainers ?? []) as Plain<Container>[]),
        ...((spec.containers ?? []) as Plain<Container>[]),
        ...((spec.ephemeralContainers ?? []) as Plain<Container>[]),
    ];
    const each = (f: (c: Plain<Container>, sec: Sec, name: string) => void) =>
        containers.forEach((c) => f(c, c.securityContext ?? {}, String(c.name)));
    const volumes = (spec.volumes ?? []) as Record<string, unknown>[];
    // `hostUsers: false` (a user namespace) relaxes some controls, as the server's policy does since 1.35.
    const userNamespace = spec.hostUsers === false;

    // Baseline.
    for (const ns of ["hostNetwork", "hostPID", "hostIPC"] as const) if (spec[ns] === true) out.push(`baseline: ${ns}`);
    each((c, sec, n) => {
        if (sec.privileged === true) out.push(`baseline: privileged container ${n}`);
        for (const cap of sec.capabilities?.add ?? []) if (!BASELINE_CAPABILITIES.has(cap)) out.push(`baseline: capability ${cap} in ${n}`);
        for (const p of (c.ports ?? []) as { hostPort?: number }[]) if ((p.hostPort ?? 0) !== 0) out.push(`baseline: hostPort in ${n}`);
        if (sec.appArmorProfile?.type === "Unconfined") out.push(`baseline: AppArmor Unconfined in ${n}`);
        if (sec.seccompProfile?.type === "Unconfined") out.push(`baseline: seccomp Unconfined in ${n}`);
        if (
            !SELINUX_TYPES.has(sec.seLinuxOptions?.type ?? "") ||
            sec.seLinuxOptions?.user !== undefined ||
            sec.seLinuxOptions?.role !== undefined
        )
            out.push(`baseline: SELinux options in ${n}`);
        // (since 1.35, any procMount in a user namespace: pod-security-admission check_procMount_baseline.go)
        if ((sec.procMount ?? "Default") !== "Default" && !userNamespace) out.push(`baseline: procMount in ${n}`);
    });
    for (const v of volumes) if (v.hostPath !== undefined) out.push(`baseline: hostPath volume ${String(v.name)}`);
    if (podSec.appArmorProfile?.type === "Unconfined") out.push("baseline: AppArmor Unconfined (pod)");
    if (podSec.seccompProfile?.type === "Unconfined") out.push("baseline: seccomp Unconfined (pod)");
    if (!SELINUX_TYPES.has(podSec.seLinuxOptions?.type ?? "")) out.push("baseline: SELinux type (pod)");
    for (const s of podSec.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) out.push(`baseline: sysctl ${s.name}`);
    if (level === "baseline") return out;

    // Restricted.
    for (const v of volumes) {
        const type = Object.keys(v).find((k) => k !== "name");
        if (type !== undefined && !RESTRICTED_VOLUMES.includes(type)) out.push(`restricted: volume type ${type} (${String(v.name)})`);
    }
    each((_c, sec, n) => {
        if (sec.allowPrivilegeEscalation !== false) out.push(`restricted: allowPrivilegeEscalation not false in ${n}`);
        // runAsNonRoot and runAsUser: any value in a user namespace (1.35: check_runAsNonRoot.go, check_runAsUser.go).
        if (sec.runAsNonRoot !== true && podSec.runAsNonRoot !== true && !userNamespace)
            out.push(`restricted: runAsNonRoot not true in ${n}`);
        if ((sec.runAsUser === 0 || (sec.runAsUser === undefined && podSec.runAsUser === 0)) && !userNamespace)
            out.push(`restricted: runAsUser 0 in ${n}`);
        // procMount stays Default at restricted, user namespace or not (check_procMount_restricted.go).
        if ((sec.procMount ?? "Default") !== "Default" && userNamespace) out.push(`restricted: procMount in ${n}`);
        const seccomp = sec.seccompProfile?.type ?? podSec.seccompProfile?.type;
        if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push(`restricted: seccomp not RuntimeDefault/Localhost in ${n}`);
        if (!(sec.capabilities?.drop ?? []).includes("ALL")) out.push(`restricted: capabilities not dropping ALL in ${n}`);
        for (const cap of sec.capabilities?.add ?? []) if (cap !== "NET_BIND_SERVICE") out.push(`restricted: capability ${cap} in ${n}`);
    });
    if (podSec.runAsUser === 0 && !userNamespace) out.push("restricted: runAsUser 0 (pod)");
    return out;
}

/** The strictest level `spec` meets: what its namespace's `pod-security.kubernetes.io/enforce` must at least allow. */
export function podSecurityLevel(spec: Plain<PodSpec>): PodSecurityLevel {
    if (podSecurityViolations(spec, "restricted").length === 0) return "restricted";
    if (podSecurityViolations(spec, "baseline").length === 0) return "baseline";
    return "privileged";
}

/** Namespace labels that admit pods of `level` (enforce), and warn and audit at the same level. */
export function podSecurityLabels(level: PodSecurityLevel): Record<string, string> {
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/warn": level,
        "pod-security.kubernetes.io/audit": level,
    };
}

const STRICTNESS: Record<PodSecurityLevel, number> = { privileged: 0, baseline: 1, restricted: 2 };

/**
 * Why a namespace that already exists with these labels would refuse pods that need `needed` (its
 * `pod-security.kubernetes.io/enforce` is stricter), or undefined. Without the label the cluster's default
 * applies, which the daemon's own labels override when it adopts the namespace.
 */
export function namespaceRefusal(ns: string, labels: Readonly<Record<string, string>>, needed: PodSecurityLevel): string | undefined {
    const key = "pod-security.kubernetes.io/enforce";
    const enforce = labels[key];
    if (enforce === undefined || !(enforce in STRICTNESS)) return undefined;
    if (STRICTNESS[enforce as PodSecurityLevel] <= STRICTNESS[needed]) return undefined;
    return (
        `cluster.namespace: namespace "${ns}" already exists in this cluster with ${key}=${enforce}, which refuses the ` +
        `buildkitd pods (their spec needs "${needed}"). Label it for them ` +
        `(kubectl label --overwrite namespace ${ns} ${key}=${needed}), or set cluster.namespace to a namespace of their own.`
    );
}
