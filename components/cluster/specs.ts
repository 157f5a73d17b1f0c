/**
 * Kubernetes specs of the in-cluster buildkitd, as pure functions typed with `k8s.types.input.*`:
 * the StatefulSet (privileged or rootless), its Services, its ConfigMap (buildkitd.toml from the same
 * renderer as the hosts'), and the TLS plan its certificates follow.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ResolvedConfig } from "../config";
import { DAEMON_NAME, DAEMON_PORT } from "../builds/daemon";
import { hasOwnGcPolicy, renderBuildkitdToml } from "../render/buildkitd-toml";
import { effectiveGc, quantityBytes } from "../render/gc-limits";

/** Where the server certificate Secret is mounted. */
export const CERTS_DIR = "/certs";
export const CONFIG_DIR = "/etc/buildkit";

export type Mode = "privileged" | "rootless";

export const daemonLabels = { "app.kubernetes.io/name": DAEMON_NAME, "app.kubernetes.io/managed-by": "k3s-buildkit" } as const;

/** Paths that differ between the modes. */
export function modePaths(mode: Mode): { root: string; socket: string } {
    return mode === "rootless"
        ? { root: "/home/user/.local/share/buildkit", socket: "unix:///run/user/1000/buildkit/buildkitd.sock" }
        : { root: "/var/lib/buildkit", socket: "unix:///run/buildkit/buildkitd.sock" };
}

/** ConfigMap key of a registry's CA (keys allow only [-._a-zA-Z0-9]). */
export const caKey = (registry: string) => `ca-${registry.replace(/[^-._a-zA-Z0-9]/g, "_")}.pem`;
/** Path of a registry's CA inside the pod. */
export const caPath = (registry: string) => `${CONFIG_DIR}/certs/${registry}/ca.pem`;

/** CPUs of a Kubernetes CPU quantity ("500m", "2", "1.5"), rounded up; undefined when it is not one. */
export function cpuCount(quantity: string | undefined): number | undefined {
    if (quantity === undefined) return undefined;
    const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(quantity);
    if (m === null) return undefined;
    const cpus = Number(m[1]) / (m[2] === "m" ? 1000 : 1);
    return Math.max(1, Math.ceil(cpus));
}

/**
 * The ConfigMap's data: buildkitd.toml (OCI worker) and the registries' CA files. GC limits not set in
 * config are derived from the state volume's size (a PVC of `stateSize`); on a node's hostPath, whose disk
 * is not known here, BuildKit applies the shares to it at start. max-parallelism follows the CPU limit.
 */
export function configMapData(
    cluster: Pick<ResolvedConfig["cluster"], "mode" | "storageClass" | "stateSize" | "resources" | "extraConfig">,
    buildkit: ResolvedConfig["buildkit"],
    registries: ResolvedConfig["registries"],
): Record<string, string> {
    const diskBytes = cluster.storageClass === undefined ? undefined : quantityBytes(cluster.stateSize);
    const maxParallelism = buildkit.maxParallelism ?? cpuCount(cluster.resources.limits.cpu);
    const toml = renderBuildkitdToml({
        extra: cluster.extraConfig,
        root: modePaths(cluster.mode).root,
        debug: buildkit.debug,
        worker: {
            kind: "oci",
            platforms: buildkit.platforms,
            gc: effectiveGc(buildkit.gc, diskBytes, hasOwnGcPolicy(cluster.extraConfig, "oci")),
            ...(maxParallelism === undefined ? {} : { maxParallelism }),
        },
        history: buildkit.history,
        registries: Object.fromEntries(
            Object.entries(registries).map(([host, r]) => [
                host,
                { mirrors: r.mirrors, http: r.http, insecure: r.insecure, caFiles: r.ca === undefined ? [] : [caPath(host)] },
            ]),
        ),
    });
    const data: Record<string, string> = { "buildkitd.toml": toml };
    for (const [host, r] of Object.entries(registries)) if (r.ca !== undefined) data[caKey(host)] = r.ca;
    return data;
}

/**
 * The daemon's preStop: wait while BuildKit reports running builds (STARTED events of its build history),
 * at most `graceSeconds`, so a rolled, drained or evicted pod finishes its builds before SIGTERM.
 */
export function waitForBuildsCommand(socket: string, graceSeconds: number): string[] {
    return [
        "sh",
        "-c",
        `end=$(($(date +%s) + ${graceSeconds})); ` +
            `while buildctl --addr ${socket} debug histories --format '{{.Type}}' 2>/dev/null | grep -q '^STARTED$' && [ "$(date +%s)" -lt "$end" ]; do sleep 2; done`,
    ];
}

/** Seconds the daemon gets to stop after its builds' grace: buildkitd's own shutdown. */
export const DAEMON_STOP_SECONDS = 30;

export interface StatefulSetInputs {
    readonly mode: Mode;
    readonly namespace: string;
    readonly image: string;
    readonly cluster: ResolvedConfig["cluster"];
    readonly registries: ResolvedConfig["registries"];
    /** Names of the ConfigMap and the server TLS Secret. */
    readonly configMapName: string;
    readonly tlsSecretName: string;
    /** Checksum of the ConfigMap data: a change rolls the pods. */
    readonly configHash: string;
    /**
     * sha256 of the server certificate and the CA: a renewal changes it, and so rolls the pods onto the new
     * certificate. An Output in the program: only this annotation is unknown in a preview, not the whole spec
     * (an unknown spec makes the provider preview a replacement of the StatefulSet, as the real one did).
     */
    readonly tlsHash: pulumi.Input<string>;
    /** hostPath for state when no storageClass is set. */
    readonly hostStatePath: string;
    /** Longest a stopping pod waits for its running builds (`buildkit.buildGraceSeconds`). @default 0 */
    readonly buildGraceSeconds?: number;
    /** Proxy variables for buildkitd (stack proxy; NO_PROXY covers the cluster). @default {} */
    readonly proxyEnv?: Readonly<Record<string, string>>;
}

const probe: k8s.types.input.core.v1.Probe = {
    exec: { command: ["buildctl", "debug", "workers"] },
    initialDelaySeconds: 5,
    periodSeconds: 30,
};

/** The StatefulSet spec. */
export function statefulSetSpec(i: StatefulSetInputs): k8s.types.input.apps.v1.StatefulSetSpec {
    const { root, socket } = modePaths(i.mode);
    const rootless = i.mode === "rootless";
    const pvc = i.cluster.storageClass !== undefined;
    const caItems = Object.entries(i.registries)
        .filter(([, r]) => r.ca !== undefined)
        .map(([host]) => ({ key: caKey(host), path: `certs/${host}/ca.pem` }));
    // Each pod's state in its own hostPath subdirectory; the rootless daemon's apart from the privileged
    // one's: a privileged daemon leaves root-owned state (runc-overlayfs/…) the rootless one (uid 1000)
    // cannot open, so switching modes on a node would crash it. (The privileged state stays on the node.)
    const subPathExpr = rootless ? "$(POD_NAME)-rootless" : "$(POD_NAME)";
    const container: k8s.types.input.core.v1.Container = {
        name: DAEMON_NAME,
        image: i.image,
        args: [
            "--addr",
            socket,
            "--addr",
            `tcp://0.0.0.0:${DAEMON_PORT}`,
            "--tlscacert",
            `${CERTS_DIR}/ca.pem`,
            "--tlscert",
            `${CERTS_DIR}/cert.pem`,
            "--tlskey",
            `${CERTS_DIR}/key.pem`,
            "--config",
            `${CONFIG_DIR}/buildkitd.toml`,
            ...(rootless ? ["--oci-worker-no-process-sandbox"] : []),
        ],
        ports: [{ name: DAEMON_NAME, containerPort: DAEMON_PORT, protocol: "TCP" }],
        readinessProbe: probe,
        livenessProbe: probe,
        ...((i.buildGraceSeconds ?? 0) > 0
            ? { lifecycle: { preStop: { exec: { command: waitForBuildsCommand(socket, i.buildGraceSeconds ?? 0) } } } }
            : {}),
        securityContext: rootless
            ? {
                  runAsUser: 1000,
                  runAsGroup: 1000,
                  seccompProfile: { type: "Unconfined" },
                  appArmorProfile: { type: "Unconfined" },
              }
            : { privileged: true },
        env: [
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
            ...Object.entries(i.proxyEnv ?? {}).map(([name, value]) => ({ name, value })),
        ],
        volumeMounts: [
            { name: "state", mountPath: root, ...(pvc ? {} : { subPathExpr }) },
            { name: "config", mountPath: CONFIG_DIR, readOnly: true },
            { name: "certs", mountPath: CERTS_DIR, readOnly: true },
        ],
        ...(Object.keys(i.cluster.resources.requests).length + Object.keys(i.cluster.resources.limits).length > 0
            ? {
                  resources: {
                      ...(Object.keys(i.cluster.resources.requests).length > 0 ? { requests: i.cluster.resources.requests } : {}),
                      ...(Object.keys(i.cluster.resources.limits).length > 0 ? { limits: i.cluster.resources.limits } : {}),
                  },
              }
            : {}),
    };
    // A hostPath is root-owned; the rootless daemon (uid 1000) needs its state dir handed over first.
    const initContainers: k8s.types.input.core.v1.Container[] =
        rootless && !pvc
            ? [
                  {
                      name: "state-owner",
                      image: i.image,
                      command: ["sh", "-c", `chown 1000:1000 ${root}`],
                      securityContext: { runAsUser: 0, runAsGroup: 0 },
                      env: container.env,
                      volumeMounts: [{ name: "state", mountPath: root, subPathExpr }],
                  },
              ]
            : [];
    return {
        serviceName: `${DAEMON_NAME}-headless`,
        replicas: i.cluster.replicas,
        podManagementPolicy: "Parallel",
        selector: { matchLabels: { ...daemonLabels } },
        template: {
            metadata: {
                labels: { ...daemonLabels },
                annotations: { "k3s-buildkit/config-sha256": i.configHash, "k3s-buildkit/tls-sha256": i.tlsHash },
            },
            spec: {
                ...(rootless ? { securityContext: { fsGroup: 1000 } } : {}),
                ...(initContainers.length > 0 ? { initContainers } : {}),
                containers: [container],
                terminationGracePeriodSeconds: (i.buildGraceSeconds ?? 0) + DAEMON_STOP_SECONDS,
                ...(Object.keys(i.cluster.nodeSelector).length > 0 ? { nodeSelector: i.cluster.nodeSelector } : {}),
                ...(i.cluster.tolerations.length > 0 ? { tolerations: i.cluster.tolerations.map((t) => ({ ...t })) } : {}),
                ...(i.cluster.affinity === undefined ? {} : { affinity: i.cluster.affinity as k8s.types.input.core.v1.Affinity }),
                volumes: [
                    {
                        name: "config",
                        configMap: { name: i.configMapName, items: [{ key: "buildkitd.toml", path: "buildkitd.toml" }, ...caItems] },
                    },
                    { name: "certs", secret: { secretName: i.tlsSecretName } },
                    ...(pvc ? [] : [{ name: "state", hostPath: { path: i.hostStatePath, type: "DirectoryOrCreate" } }]),
                ],
            },
        },
        ...(pvc
            ? {
                  volumeClaimTemplates: [
                      {
                          metadata: { name: "state" },
                          spec: {
                              accessModes: ["ReadWriteOnce"],
                              storageClassName: i.cluster.storageClass,
                              resources: { requests: { storage: i.cluster.stateSize } },
                          },
                      },
                  ],
              }
            : {}),
    };
}

/** The ClusterIP Service clients (build Jobs, port-forwards) use. */
export function serviceSpec(): k8s.types.input.core.v1.ServiceSpec {
    return {
        type: "ClusterIP",
        selector: { ...daemonLabels },
        ports: [{ name: DAEMON_NAME, port: DAEMON_PORT, targetPort: DAEMON_PORT, protocol: "TCP" }],
    };
}

/** The headless Service that gives the StatefulSet's pods stable names. */
export function headlessServiceSpec(): k8s.types.input.core.v1.ServiceSpec {
    return {
        clusterIP: "None",
        selector: { ...daemonLabels },
        ports: [{ name: DAEMON_NAME, port: DAEMON_PORT, targetPort: DAEMON_PORT, protocol: "TCP" }],
    };
}

/**
 * The daemon's PodDisruptionBudget, with two replicas or more: a drain (a k3s rolling restart, agents in
 * batches) or any eviction takes one daemon pod at a time, each finishing its builds (its preStop) while the
 * others serve. None with one replica: a budget there would either block every drain or mean nothing.
 */
export function podDisruptionBudgetSpec(replicas: number): k8s.types.input.policy.v1.PodDisruptionBudgetSpec | undefined {
    return replicas < 2 ? undefined : { maxUnavailable: 1, selector: { matchLabels: { ...daemonLabels } } };
}

/** DNS names the server certificate covers, plus 127.0.0.1 for port-forwards. */
export function serverSans(namespace: string): { dnsNames: string[]; ipAddresses: string[] } {
    const svc = DAEMON_NAME;
    return {
        dnsNames: [
            svc,
            `${svc}.${namespace}`,
            `${svc}.${namespace}.svc`,
            `${svc}.${namespace}.svc.cluster.local`,
            `*.${svc}-headless.${namespace}.svc`,
            `*.${svc}-headless.${namespace}.svc.cluster.local`,
            "localhost",
        ],
        ipAddresses: ["127.0.0.1"],
    };
}

/** A key usage (named as Terraform's TLS provider names them: ./mutual-tls.ts maps each to X.509). */
export type CertUse = "cert_signing" | "crl_signing" | "digital_signature" | "key_encipherment" | "server_auth" | "client_auth";

/** One certificate of the daemon's mutual TLS: an ECDSA P-256 key, signed by the CA (or by itself, for the CA). */
export interface CertPlan {
    readonly commonName: string;
    readonly validityHours: number;
    /** Re-issued this long before it expires (0: only at expiry). */
    readonly earlyRenewalHours: number;
    readonly uses: readonly CertUse[];
    readonly isCa: boolean;
    readonly sans?: { readonly dnsNames: readonly string[]; readonly ipAddresses: readonly string[] };
}

/**
 * The daemon's mutual TLS: a CA, a server certificate for the Service names and 127.0.0.1, a client
 * certificate for build Jobs and workstations, issued by ./mutual-tls.ts (the real-host tests run real
 * BuildKit on what it issues).
 */
export function tlsPlan(namespace: string): { readonly ca: CertPlan; readonly server: CertPlan; readonly client: CertPlan } {
    const leaf = { validityHours: 24 * 365, earlyRenewalHours: 24 * 30, isCa: false } as const;
    return {
        ca: {
            commonName: "k3s-buildkit buildkitd CA",
            validityHours: 24 * 365 * 5,
            earlyRenewalHours: 0,
            uses: ["cert_signing", "crl_signing", "digital_signature"],
            isCa: true,
        },
        server: {
            ...leaf,
            commonName: `${DAEMON_NAME}.${namespace}.svc`,
            uses: ["digital_signature", "key_encipherment", "server_auth"],
            sans: serverSans(namespace),
        },
        client: { ...leaf, commonName: "k3s-buildkit client", uses: ["digital_signature", "key_encipherment", "client_auth"] },
    };
}
