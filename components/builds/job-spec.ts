/**
 * An in-cluster build as pure Kubernetes specs: the content-addressed Job name, the replica it runs
 * against, the `buildctl` command, the context ConfigMap and the Job spec with its volumes. Typed with
 * `k8s.types.input.*`; no resources are created here (see ./image-build.ts).
 */
import { createHash } from "node:crypto";
import type * as k8s from "@pulumi/kubernetes";
import { DAEMON_NAME, DAEMON_PORT } from "./daemon";
import type { ResolvedConfig } from "../config";
import { type BuildctlBuild, buildctlArgs, type Cache, type ContextSource, type Output, repositoryOf } from "./buildctl";

export type BuildConfig = ResolvedConfig["builds"][number];
type Registries = ResolvedConfig["registries"];

/** Where things are mounted in a build Job's pod. */
export const JOB_PATHS = {
    tls: "/run/buildkit-client",
    dockerConfig: "/run/docker-config",
    context: "/workspace/context",
    dockerfile: "/workspace/dockerfile",
    secrets: "/run/build-secrets",
    exports: "/exports",
    cache: "/cache",
    metadata: "/tmp/metadata.json",
} as const;

export const buildLabels = (build: string) =>
    ({
        "app.kubernetes.io/name": "image-build",
        "app.kubernetes.io/instance": build,
        "app.kubernetes.io/managed-by": "k3s-buildkit",
    }) as const;

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
    if (value !== null && typeof value === "object") {
        const o = value as Record<string, unknown>;
        return `{${Object.keys(o)
            .filter((k) => o[k] !== undefined)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(value);
}

const NOT_DEFINING = new Set(["backoffLimit", "timeoutMinutes"]);

/**
 * sha256 of everything that defines a build's result: context, Dockerfile, stage, args, platforms,
 * secret ids, tags, outputs, cache and the trigger. Not included, because they cannot change the
 * result: the Job's retry count and deadline, which daemon replica runs it, registry credentials and
 * secret values (change `trigger` to rebuild after rotating one).
 */
export function definitionHash(b: BuildConfig): string {
    const defining = Object.fromEntries(Object.entries(b).filter(([k]) => !NOT_DEFINING.has(k)));
    return createHash("sha256").update(canonicalJson(defining)).digest("hex");
}

/** `build-<name>-<10 hex>`: at most 57 characters (names are at most 40). */
export const jobName = (b: BuildConfig) => `build-${b.name}-${definitionHash(b).slice(0, 10)}`;

/** The replica a build runs against: fixed per build (cache affinity), spread across replicas. */
export function replicaIndex(hash: string, replicas: number): number {
    return parseInt(hash.slice(0, 8), 16) % replicas;
}

/** DNS name of replica `i` through the headless Service (covered by the server certificate). */
export const replicaHost = (namespace: string, i: number) => `${DAEMON_NAME}-${i}.${DAEMON_NAME}-headless.${namespace}.svc`;

/** The registry host of an image reference (`docker.io` when the first part is not a host). */
export function registryOf(ref: string): string {
    const first = ref.split("/")[0];
    return ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}

/** Plain-HTTP or self-signed: pushes to it need `registry.insecure=true`. */
export const insecureRegistry = (registries: Registries, ref: string) => {
    const r = registries[registryOf(ref)] as Registries[string] | undefined;
    return r !== undefined && (r.http || r.insecure);
};

/** `url#ref:subdir` (BuildKit's git context syntax). */
export function gitContextUrl(c: { git?: string; ref?: string; subdir?: string }): string {
    const fragment = `${c.ref ?? ""}${c.subdir === undefined ? "" : `:${c.subdir}`}`;
    return `${c.git ?? ""}${fragment === "" ? "" : `#${fragment}`}`;
}

/** Inline context files as ConfigMap data (keys f0, f1, … by sorted path) and the volume items that lay them out. */
export function contextFiles(b: Pick<BuildConfig, "context" | "dockerfileInline">): {
    data: Record<string, string>;
    contextItems: { key: string; path: string }[];
    dockerfileItems: { key: string; path: string }[];
} {
    const files = b.context.files ?? {};
    const paths = Object.keys(files).sort();
    const data: Record<string, string> = {};
    const contextItems = paths.map((path, i) => {
        data[`f${i}`] = files[path];
        return { key: `f${i}`, path };
    });
    const dockerfileItems: { key: string; path: string }[] = [];
    if (b.dockerfileInline !== undefined) {
        data.Dockerfile = b.dockerfileInline;
        dockerfileItems.push({ key: "Dockerfile", path: "Dockerfile" });
    }
    return { data, contextItems, dockerfileItems };
}

/** The Dockerfile frontend's context source for a build, given where local context files are. */
export function contextSource(
    b: {
        readonly context: {
            readonly files?: object;
            readonly dir?: string;
            readonly git?: string;
            readonly ref?: string;
            readonly subdir?: string;
            readonly url?: string;
        };
        readonly dockerfileInline?: string;
    },
    dirs: { context: string; dockerfile: string },
): ContextSource {
    const inlineDockerfile = b.dockerfileInline === undefined ? undefined : dirs.dockerfile;
    // Inline files (and a host build's copied directory) sit in `dirs.context` on the client.
    if (b.context.files !== undefined || b.context.dir !== undefined)
        return { kind: "local", dir: dirs.context, dockerfileDir: inlineDockerfile ?? dirs.context };
    const url = b.context.git !== undefined ? gitContextUrl(b.context) : (b.context.url ?? "");
    return { kind: "remote", url, ...(inlineDockerfile === undefined ? {} : { dockerfileDir: inlineDockerfile }) };
}

/** The ids of `buildSecrets` a build reads: its `secrets` and its git token, sorted. */
export function buildSecretIds(b: Pick<BuildConfig, "secrets" | "context">): string[] {
    return [...new Set([...b.secrets, ...(b.context.gitTokenSecret === undefined ? [] : [b.context.gitTokenSecret])])].sort();
}

/** The buildctl build a Job runs: against replica `replica` over mutual TLS, metadata to {@link JOB_PATHS.metadata}. */
export function jobBuildctl(b: BuildConfig, registries: Registries, namespace: string, replica: number): BuildctlBuild {
    const tags = b.tags;
    const outputs: Output[] = [
        { type: "image", names: tags, push: b.push, insecure: b.push && tags.some((t) => insecureRegistry(registries, t)) },
        ...b.exports.map((e, i): Output => ({
            type: e.type,
            dest: `${JOB_PATHS.exports}/${i}/${e.path}`,
            ...(e.type === "docker" || e.type === "oci" ? { name: tags[0] } : {}),
        })),
    ];
    const cacheRef = b.cache.ref ?? `${repositoryOf(tags[0])}:buildcache`;
    const cache: Cache =
        b.cache.type === "registry"
            ? { type: "registry", ref: cacheRef, imageManifest: b.cache.imageManifest, insecure: insecureRegistry(registries, cacheRef) }
            : b.cache.type === "inline"
              ? { type: "inline", from: tags[0], insecure: insecureRegistry(registries, tags[0]) }
              : b.cache.type === "local"
                ? { type: "local", dir: `${JOB_PATHS.cache}/${b.name}` }
                : { type: "none" };
    const host = replicaHost(namespace, replica);
    return {
        connection: {
            addr: `tcp://${host}:${DAEMON_PORT}`,
            tls: { ca: `${JOB_PATHS.tls}/ca.pem`, cert: `${JOB_PATHS.tls}/cert.pem`, key: `${JOB_PATHS.tls}/key.pem` },
        },
        context: contextSource(b, JOB_PATHS),
        ...(b.dockerfileInline === undefined ? { dockerfile: b.dockerfile } : {}),
        ...(b.target === undefined ? {} : { target: b.target }),
        buildArgs: b.buildArgs,
        platforms: b.platforms,
        secrets: [
            ...b.secrets.map((id) => ({ id, src: `${JOB_PATHS.secrets}/${id}` })),
            ...(b.context.gitTokenSecret === undefined
                ? []
                : [{ id: "GIT_AUTH_TOKEN", src: `${JOB_PATHS.secrets}/${b.context.gitTokenSecret}` }]),
        ],
        outputs,
        cache,
        metadataFile: JOB_PATHS.metadata,
    };
}

/**
 * The container's command: buildctl with its argv as positional parameters (never interpolated),
 * then the metadata copied to the termination message, where the build result reads the digest.
 * buildctl writes its metadata file atomically (temp file + rename), which cannot target the
 * bind-mounted /dev/termination-log directly. On failure the message is empty and Kubernetes puts
 * the log tail there instead (FallbackToLogsOnError).
 */
export function jobCommand(argv: readonly string[]): string[] {
    return ["/bin/sh", "-c", `buildctl "$@" && cat ${JOB_PATHS.metadata} > /dev/termination-log`, "buildctl", ...argv];
}

export interface JobSpecInputs {
    readonly build: BuildConfig;
    readonly registries: Registries;
    readonly namespace: string;
    readonly replicas: number;
    /** Image with buildctl (the daemon's image). */
    readonly image: string;
    readonly clientTlsSecretName: string;
    readonly registryAuthSecretName: string;
    /** ConfigMap holding inline files (when the build has any). */
    readonly contextConfigMapName?: string;
    /** Secret holding the build's secrets (when it uses any). */
    readonly secretsSecretName?: string;
}

/**
 * The security contexts of the program's own one-shot pods (build Jobs, the cache report): uid 1000, no
 * privilege escalation, no capabilities, a read-only root, RuntimeDefault seccomp. They meet "restricted".
 */
export const RESTRICTED_SECURITY: {
    readonly pod: k8s.types.input.core.v1.PodSecurityContext;
    readonly container: k8s.types.input.core.v1.SecurityContext;
} = {
    pod: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
    container: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
};

/** The Job spec: one pod, no retries beyond backoffLimit, a deadline, no TTL (refresh must still find it). */
export function jobSpec(i: JobSpecInputs): k8s.types.input.batch.v1.JobSpec {
    const b = i.build;
    const hash = definitionHash(b);
    const argv = buildctlArgs(jobBuildctl(b, i.registries, i.namespace, replicaIndex(hash, i.replicas)));
    const files = contextFiles(b);
    const secretIds = buildSecretIds(b);
    const volumes: k8s.types.input.core.v1.Volume[] = [
        { name: "client-tls", secret: { secretName: i.clientTlsSecretName, defaultMode: 0o440 } },
        {
            name: "docker-config",
            secret: {
                secretName: i.registryAuthSecretName,
                items: [{ key: ".dockerconfigjson", path: "config.json" }],
                defaultMode: 0o440,
            },
        },
        { name: "tmp", emptyDir: {} },
    ];
    const mounts: k8s.types.input.core.v1.VolumeMount[] = [
        { name: "client-tls", mountPath: JOB_PATHS.tls, readOnly: true },
        { name: "docker-config", mountPath: JOB_PATHS.dockerConfig, readOnly: true },
        { name: "tmp", mountPath: "/tmp" },
    ];
    if (files.contextItems.length > 0) {
        volumes.push({ name: "context", configMap: { name: i.contextConfigMapName ?? "", items: files.contextItems } });
        mounts.push({ name: "context", mountPath: JOB_PATHS.context, readOnly: true });
    }
    if (files.dockerfileItems.length > 0) {
        volumes.push({ name: "dockerfile", configMap: { name: i.contextConfigMapName ?? "", items: files.dockerfileItems } });
        mounts.push({ name: "dockerfile", mountPath: JOB_PATHS.dockerfile, readOnly: true });
    }
    if (secretIds.length > 0) {
        volumes.push({
            name: "build-secrets",
            secret: { secretName: i.secretsSecretName ?? "", items: secretIds.map((id) => ({ key: id, path: id })), defaultMode: 0o440 },
        });
        mounts.push({ name: "build-secrets", mountPath: JOB_PATHS.secrets, readOnly: true });
    }
    b.exports.forEach((e, n) => {
        volumes.push({ name: `export-${n}`, persistentVolumeClaim: { claimName: e.claimName } });
        mounts.push({ name: `export-${n}`, mountPath: `${JOB_PATHS.exports}/${n}` });
    });
    if (b.cache.type === "local" && b.cache.claimName !== undefined) {
        volumes.push({ name: "cache", persistentVolumeClaim: { claimName: b.cache.claimName } });
        mounts.push({ name: "cache", mountPath: JOB_PATHS.cache });
    }
    return {
        backoffLimit: b.backoffLimit,
        activeDeadlineSeconds: b.timeoutMinutes * 60,
        template: {
            metadata: { labels: { ...buildLabels(b.name) } },
            spec: {
                restartPolicy: "Never",
                automountServiceAccountToken: false,
                enableServiceLinks: false,
                securityContext: RESTRICTED_SECURITY.pod,
                containers: [
                    {
                        name: "buildctl",
                        image: i.image,
                        command: jobCommand(argv),
                        env: [
                            { name: "DOCKER_CONFIG", value: JOB_PATHS.dockerConfig },
                            { name: "HOME", value: "/tmp" },
                        ],
                        securityContext: RESTRICTED_SECURITY.container,
                        terminationMessagePath: "/dev/termination-log",
                        terminationMessagePolicy: "FallbackToLogsOnError",
                        volumeMounts: mounts,
                    },
                ],
                volumes,
            },
        },
    };
}
