/**
 * The stack config: its schema (the single source for validation, defaults, types and the README's
 * config reference), the pure parser, and the one impure function that reads Pulumi config.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { resolve as resolvePath } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import {
    arr,
    bool,
    ConfigIssue,
    formatIssue,
    Infer,
    int,
    joinPath,
    json,
    map,
    MAX_LENGTH,
    obj,
    optional,
    parseField,
    quoteValue,
    str,
    unknownKeyMessage,
} from "./schema";

/** The Pulumi project name; stack config keys are `k3s-buildkit:<key>`. */
export const PROJECT = "k3s-buildkit";

// ---- reusable field shapes --------------------------------------------------------------------

/** A DNS name: labels of letters, digits and inner '-', 253 characters at most. Linear: labels are split by a literal '.'. */
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** An IPv4 or IPv6 address (IPv6 optionally in brackets), or a DNS name that does not look like a broken IPv4 address. */
export function isHostOrIp(value: string): boolean {
    const bare = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
    if (isIP(bare) !== 0) return bare === value || isIP(bare) === 6;
    return bare === value && DNS_NAME.test(value) && !/^[0-9.]+$/.test(value);
}

/** A string field holding a DNS name or an IP address. */
function hostOrIp(description: string) {
    return str({
        description,
        maxLength: 255,
        check: (v) =>
            isHostOrIp(v) ? undefined : `expected a DNS name or an IP address (like 10.0.0.5 or build-1.example.com); got ${quoteValue(v)}`,
    });
}

/**
 * Directories (and everything below them) that belong to the operating system: a data directory there
 * would have the system's files deleted with it.
 */
const SYSTEM_TREES = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys", "/usr"];
/** Directories that hold other things than ours: refused themselves (a directory below them is fine). */
const SYSTEM_DIRS = [
    "/",
    "/home",
    "/media",
    "/mnt",
    "/opt",
    "/root",
    "/srv",
    "/tmp",
    "/var",
    "/var/cache",
    "/var/lib",
    "/var/log",
    "/var/tmp",
];

/** Why `value` is not a normalized absolute path of plain characters, or undefined. */
export function absolutePathProblem(value: string): string | undefined {
    if (!/^\/[A-Za-z0-9._+@/-]*$/.test(value)) {
        return `expected an absolute path of plain characters (A-Z a-z 0-9 . _ + @ - /), like /data/k3s; got ${quoteValue(value)}`;
    }
    const segments = value.split("/").slice(1);
    if (value !== "/" && segments.some((s) => s === "" || s === "." || s === "..")) {
        return `must be a normalized absolute path (no "." or ".." segments, no doubled or trailing "/"), like /data/k3s; got ${quoteValue(value)}`;
    }
    return undefined;
}

/** Why `dir` may not be a directory this program owns (removed on destroy, or filled with state), or undefined. */
export function systemDirectoryProblem(dir: string, why: string): string | undefined {
    const system = SYSTEM_DIRS.includes(dir) || SYSTEM_TREES.some((t) => dir === t || dir.startsWith(`${t}/`));
    return system ? `${JSON.stringify(dir)} is a system directory (${why}); use a directory of its own, like /data/k3s` : undefined;
}

/** An absolute, normalized path; `ownedBecause` (for directories this program owns) also refuses system directories. */
function absolutePath(o: { description: string; default?: string; ownedBecause?: string }) {
    return str({
        description: o.description,
        ...(o.default === undefined ? {} : { default: o.default }),
        check: (v) => absolutePathProblem(v) ?? (o.ownedBecause === undefined ? undefined : systemDirectoryProblem(v, o.ownedBecause)),
    });
}

const HOST_NAME = {
    regex: /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/,
    expected: "a lowercase DNS label of at most 40 characters (a-z, 0-9, '-'), like \"server-1\"",
};
const UNIX_USER = {
    regex: /^[a-z_][a-z0-9_-]{0,31}$/,
    expected: "a Unix user name (lowercase letters, digits, '_' or '-', like \"ubuntu\")",
};
const HOST_KEY = {
    regex: /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]+={0,3}$/,
    expected: 'an OpenSSH public host key line like "ssh-ed25519 AAAAC3Nza…" (from ssh-keyscan, without the host name)',
};
const HTTP_URL = {
    regex: /^https?:\/\/[A-Za-z0-9[][^\s'"`$\\]*$/,
    expected: "an http:// or https:// URL without spaces, quotes, '$' or backslashes",
};
const SHA256 = { regex: /^[0-9a-f]{64}$/, expected: "a sha256 checksum: 64 lowercase hex digits" };
const REGISTRY_HOST = {
    regex: /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::[0-9]{1,5})?$/,
    expected: 'a registry host, optionally with a port, like "docker.io" or "10.0.0.9:5000"',
};
const PLATFORM = {
    regex: /^linux\/(?:amd64|arm64|arm\/v[67]|386|ppc64le|s390x|riscv64)$/,
    expected: 'a platform like "linux/amd64" or "linux/arm64"',
};

/** Kubernetes names and labels (linear patterns: each repetition is bounded or split by a literal). */
const K8S_SUBDOMAIN = {
    regex: /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/,
    expected: 'a Kubernetes object name (lowercase DNS subdomain), like "local-path"',
};
const LABEL_KEY = {
    regex: /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\/)?[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/,
    expected: 'a Kubernetes label or resource name, optionally with a prefix, like "kubernetes.io/os" or "memory"',
};
const LABEL_VALUE = {
    regex: /^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/,
    expected: "a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
};
const QUANTITY = {
    regex: /^[0-9]+(?:\.[0-9]+)?(?:m|k|[KMGTPE]i?|[eE][0-9]+)?$/,
    expected: 'a Kubernetes quantity like "500m", "2" or "4Gi"',
};

const version = (pattern: RegExp, example: string) => ({
    regex: pattern,
    expected: `a pinned release version like "${example}" ("latest" and ranges are not allowed: a preview must mean the same tomorrow)`,
});

/** Release versions pinned by default. Each was checked to exist as a release tag. */
export const DEFAULT_VERSIONS = {
    k3s: "v1.35.6+k3s1",
    buildkit: "v0.33.1",
    nerdctl: "2.4.1",
} as const;

// ---- the schema -------------------------------------------------------------------------------

const bastion = obj(
    {
        address: hostOrIp("Bastion host address."),
        port: int({ description: "Bastion SSH port.", default: 22, min: 1, max: 65535 }),
        user: str({ description: "Bastion SSH user.", default: "root", pattern: UNIX_USER }),
        hostKey: optional(str({ description: "Pinned bastion host key.", pattern: HOST_KEY })),
    },
    { description: "Reach the host through this SSH bastion (jump host); it uses the same private key." },
);

const host = obj(
    {
        name: str({ description: "Unique name of the host; used in resource names.", pattern: HOST_NAME }),
        role: str({ description: "k3s role of the host.", enum: ["server", "agent"] as const, default: "server" }),
        connection: str({
            description: "How to reach the host: over SSH, or the machine that runs Pulumi.",
            enum: ["ssh", "local"] as const,
            default: "ssh",
        }),
        address: optional(hostOrIp("IP address or DNS name to SSH to (ssh hosts only).")),
        port: optional(int({ description: "SSH port (default: sshPort).", min: 1, max: 65535 })),
        user: optional(str({ description: "SSH user (default: sshUser).", pattern: UNIX_USER })),
        sudo: optional(
            bool({
                description:
                    "Run scripts through passwordless `sudo -n` (default: true unless the user is root; for local hosts, unless Pulumi runs as root).",
            }),
        ),
        hostKey: optional(str({ description: "Pinned SSH host key; without it the host key is not checked.", pattern: HOST_KEY })),
        bastion: optional(bastion),
        dialErrorLimit: int({
            description: "SSH connection attempts before giving up (hosts still booting).",
            default: 10,
            min: 1,
            max: 1000,
        }),
        dialTimeoutSeconds: int({ description: "Seconds per SSH connection attempt.", default: 15, min: 1, max: 600 }),
        apiAddress: optional(
            hostOrIp(
                "Address other nodes and the kubeconfig use to reach this server's API (default: address; 127.0.0.1 for a local host).",
            ),
        ),
    },
    { description: "A machine to manage." },
);

const k3s = obj(
    {
        version: str({
            description: "k3s release to install.",
            default: DEFAULT_VERSIONS.k3s,
            pattern: version(/^v\d+\.\d+\.\d+\+k3s\d+$/, DEFAULT_VERSIONS.k3s),
        }),
        installScriptUrl: str({
            description: "URL of the k3s install script (a mirror of get.k3s.io).",
            default: "https://get.k3s.io",
            pattern: HTTP_URL,
        }),
        binaryBaseUrl: str({
            description: "Base URL of k3s release downloads; `<base>/<version>/k3s` and `sha256sum-<arch>.txt` are fetched from it.",
            default: "https://github.com/k3s-io/k3s/releases/download",
            pattern: HTTP_URL,
        }),
        dataDir: absolutePath({
            description: "k3s data directory (--data-dir).",
            default: "/data/k3s",
            ownedBecause: "destroy runs k3s's uninstall, which deletes the data directory and everything in it",
        }),
        disable: arr(
            str({
                description: "A packaged component to disable.",
                enum: ["traefik", "local-storage", "metrics-server", "servicelb", "coredns"] as const,
            }),
            { description: "Packaged components to disable (--disable).", default: ["traefik", "local-storage", "metrics-server"] },
        ),
        disableNetworkPolicy: bool({ description: "Disable the network policy controller.", default: true }),
        disableCloudController: bool({ description: "Disable the cloud controller manager.", default: true }),
        disableHelmController: bool({ description: "Disable the Helm controller.", default: true }),
        airgap: obj(
            {
                imagesUrl: optional(
                    str({
                        description: "URL of the k3s air-gap images tarball (verified when the release's sha256 file lists it).",
                        pattern: HTTP_URL,
                    }),
                ),
                imagesPath: optional(
                    absolutePath({
                        description: "Path of the air-gap images tarball on the machine that runs Pulumi (copied to each host).",
                    }),
                ),
            },
            {
                description:
                    "Air-gap images, placed in <dataDir>/agent/images. The binary comes from binaryBaseUrl (point it at a local mirror).",
                default: {},
            },
        ),
        readyTimeoutSeconds: int({ description: "How long to wait for a node to become Ready.", default: 300, min: 10, max: 3600 }),
        tlsSans: arr(hostOrIp("A name or address."), {
            description: "Extra names and addresses for the API server certificate (the server's address is always added).",
            default: [],
        }),
    },
    { description: "k3s on every host.", default: {} },
);

const buildkit = obj(
    {
        version: str({
            description: "BuildKit release to install on hosts (and the default in-cluster image tag).",
            default: DEFAULT_VERSIONS.buildkit,
            pattern: version(/^v\d+\.\d+\.\d+$/, DEFAULT_VERSIONS.buildkit),
        }),
        downloadBaseUrl: str({
            description: "Base URL of BuildKit release tarballs: `<base>/<version>/buildkit-<version>.linux-<arch>.tar.gz`.",
            default: "https://github.com/moby/buildkit/releases/download",
            pattern: HTTP_URL,
        }),
        sha256: map(str({ description: "Checksum of the tarball for this architecture.", pattern: SHA256 }), {
            description: "Pinned tarball checksums by architecture (amd64, arm64); BuildKit publishes none.",
            default: {},
            keyPattern: { regex: /^(?:amd64|arm64)$/, expected: '"amd64" or "arm64"' },
        }),
        root: absolutePath({
            description: "BuildKit state directory (buildkitd.toml `root`).",
            default: "/data/buildkit",
            ownedBecause: "BuildKit fills it with its state and garbage-collects it",
        }),
        containerdNamespace: str({
            description: "containerd namespace BuildKit builds into (k8s.io: images are visible to k3s pods).",
            default: "k8s.io",
            pattern: { regex: /^[A-Za-z0-9][A-Za-z0-9._-]*$/, expected: "a containerd namespace name like k8s.io" },
        }),
        platforms: arr(str({ description: "A platform.", pattern: PLATFORM }), {
            description: "Platforms the containerd worker builds for (empty: the host's own).",
            default: [],
        }),
        gc: obj(
            {
                enabled: bool({ description: "Enable BuildKit garbage collection.", default: true }),
                reservedSpace: optional(
                    str({
                        description: 'Space GC always keeps (e.g. "10GB").',
                        pattern: { regex: /^\d+(?:[KMGT]B|%)?$/, expected: 'a size like "10GB" or a percentage like "10%"' },
                    }),
                ),
                maxUsedSpace: optional(
                    str({
                        description: 'Space above which GC runs (e.g. "50GB").',
                        pattern: { regex: /^\d+(?:[KMGT]B|%)?$/, expected: 'a size like "50GB" or a percentage like "60%"' },
                    }),
                ),
                minFreeSpace: optional(
                    str({
                        description: 'Free disk space GC keeps (e.g. "20%").',
                        pattern: { regex: /^\d+(?:[KMGT]B|%)?$/, expected: 'a size like "20GB" or a percentage like "20%"' },
                    }),
                ),
            },
            { description: "BuildKit GC (v0.17+ keys).", default: {} },
        ),
        debug: bool({ description: "buildkitd debug logging.", default: false }),
    },
    { description: "BuildKit on every host, using k3s's containerd as its worker.", default: {} },
);

const nerdctl = obj(
    {
        enabled: bool({ description: "Install nerdctl on every host.", default: true }),
        version: str({
            description: "nerdctl release (minimal archive).",
            default: DEFAULT_VERSIONS.nerdctl,
            pattern: version(/^\d+\.\d+\.\d+$/, DEFAULT_VERSIONS.nerdctl),
        }),
        downloadBaseUrl: str({
            description: "Base URL of nerdctl releases: `<base>/v<version>/nerdctl-<version>-linux-<arch>.tar.gz` and `SHA256SUMS`.",
            default: "https://github.com/containerd/nerdctl/releases/download",
            pattern: HTTP_URL,
        }),
    },
    { description: "nerdctl on every host.", default: {} },
);

const registry = obj(
    {
        mirrors: arr(str({ description: "A mirror host.", pattern: REGISTRY_HOST }), {
            description: "Build-time mirrors: BuildKit pulls through them (buildkitd.toml).",
            default: [],
        }),
        runtimeMirrors: arr(str({ description: "A mirror host.", pattern: REGISTRY_HOST }), {
            description: "Run-time mirrors: k3s's containerd pulls pod images through them (registries.yaml).",
            default: [],
        }),
        http: bool({ description: "The registry speaks plain HTTP.", default: false }),
        insecure: bool({ description: "HTTPS with a certificate that is not verified.", default: false }),
        ca: optional(str({ description: "PEM CA certificate that signs the registry's certificate.", multiline: true, maxLength: 65536 })),
        username: optional(str({ description: "User name; the password goes in the secret registryPasswords." })),
    },
    { description: "Settings for one registry, keyed by its host." },
);

const cluster = obj(
    {
        enabled: bool({ description: "Run a buildkitd daemon inside the cluster.", default: true }),
        namespace: str({
            description: "Namespace of the in-cluster daemon and build Jobs.",
            default: "buildkit",
            pattern: { regex: /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, expected: "a Kubernetes namespace name (DNS label)" },
        }),
        replicas: int({ description: "buildkitd replicas.", default: 1, min: 1, max: 32 }),
        mode: str({ description: "Security mode of the daemon.", enum: ["privileged", "rootless"] as const, default: "privileged" }),
        imageRepository: str({
            description: "Repository of the buildkit image (set a mirror here); the tag is the BuildKit version.",
            default: "docker.io/moby/buildkit",
            pattern: { regex: /^[a-z0-9.:/_-]+$/, expected: "an image repository like docker.io/moby/buildkit" },
        }),
        storageClass: optional(
            str({ description: "StorageClass for the state volume (default: a hostPath under the k3s data dir).", pattern: K8S_SUBDOMAIN }),
        ),
        stateSize: str({
            description: "Size of each replica's state volume when storageClass is set.",
            default: "50Gi",
            pattern: { regex: /^\d+(?:Mi|Gi|Ti)$/, expected: 'a Kubernetes quantity like "50Gi"' },
        }),
        resources: obj(
            {
                requests: map(str({ description: "Quantity.", pattern: QUANTITY }), {
                    description: "Resource requests (cpu, memory).",
                    default: {},
                    keyPattern: LABEL_KEY,
                }),
                limits: map(str({ description: "Quantity.", pattern: QUANTITY }), {
                    description: "Resource limits (cpu, memory).",
                    default: {},
                    keyPattern: LABEL_KEY,
                }),
            },
            { description: "Resources of the buildkitd container.", default: {} },
        ),
        nodeSelector: map(str({ description: "Label value.", nonEmpty: false, pattern: LABEL_VALUE }), {
            description: "Node labels the daemon's pods must match.",
            default: {},
            keyPattern: LABEL_KEY,
        }),
        tolerations: arr(
            obj(
                {
                    key: optional(str({ description: "Taint key.", pattern: LABEL_KEY })),
                    operator: str({ description: "Toleration operator.", enum: ["Equal", "Exists"] as const, default: "Equal" }),
                    value: optional(str({ description: "Taint value.", nonEmpty: false, pattern: LABEL_VALUE })),
                    effect: optional(str({ description: "Taint effect.", enum: ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const })),
                    tolerationSeconds: optional(int({ description: "For NoExecute: how long the pod stays.", min: 0 })),
                },
                { description: "A toleration." },
            ),
            { description: "Tolerations of the daemon's pods.", default: [] },
        ),
        affinity: optional(json({ description: "Kubernetes affinity of the daemon's pods, as in a pod spec." })),
    },
    { description: "The buildkitd daemon in the cluster.", default: {} },
);

const IMAGE_REF = {
    regex: /^[a-z0-9][a-z0-9._:/@-]*$/,
    expected: "an image reference like registry.example.com/team/app:1.0",
};
/** A relative path inside a context: no leading '/', no '..' segment. */
const CONTEXT_PATH = {
    regex: /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._+@/-]+$/,
    expected: "a relative path of plain characters inside the context, like docker/Dockerfile (no '..')",
};
const SECRET_ID = {
    regex: /^(?!\.\.?$)[A-Za-z0-9_.-]{1,128}$/,
    expected: "a secret id of letters, digits, '_', '.' or '-' (not \".\" or \"..\"), at most 128 characters",
};
/** Build-arg names: BuildKit splits `build-arg:K=V` at the first '=', so a name cannot hold one. */
const BUILD_ARG_NAME = {
    regex: /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/,
    expected: "a build-arg name: a letter or '_', then letters, digits, '_', '.' or '-' (no '='), like HTTP_PROXY",
};
const K8S_NAME = { regex: /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, expected: "a Kubernetes name (DNS label)" };

/** Exactly one of the given keys is set. */
function exactlyOne(keys: readonly string[]): (c: object) => ConfigIssue[] {
    return (c) => {
        const given = keys.filter((k) => (c as Record<string, unknown>)[k] !== undefined);
        return given.length === 1
            ? []
            : [{ path: "", message: `set exactly one of ${keys.join(", ")}; got ${given.length === 0 ? "none" : given.join(" and ")}` }];
    };
}

/** Fields shared by in-cluster builds and host builds: the Dockerfile frontend's options. */
const dockerfileFields = {
    dockerfile: str({ description: "Path of the Dockerfile inside the context.", default: "Dockerfile", pattern: CONTEXT_PATH }),
    dockerfileInline: optional(
        str({
            description: "Dockerfile content given inline (used instead of the context's Dockerfile; no `# syntax=` line needed).",
            multiline: true,
        }),
    ),
    target: optional(str({ description: "Dockerfile stage to build.", pattern: { regex: /^[A-Za-z0-9_.-]+$/, expected: "a stage name" } })),
    buildArgs: map(str({ description: "Value.", nonEmpty: false, multiline: true, maxLength: MAX_LENGTH.arg }), {
        description: "Build arguments (`--opt build-arg:K=V`).",
        default: {},
        keyPattern: BUILD_ARG_NAME,
    }),
    platforms: arr(str({ description: "A platform.", pattern: PLATFORM }), {
        description: "Target platforms, one or many (empty: the daemon's own).",
        default: [],
    }),
    secrets: arr(str({ description: "A key of buildSecrets.", pattern: SECRET_ID }), {
        description: "Build secrets passed with `--secret id=<key>` (values from the secret buildSecrets).",
        default: [],
    }),
    trigger: optional(str({ description: "Free-form value; change it to force a rebuild with unchanged inputs." })),
};

const gitContext = {
    git: optional(
        str({
            description: "Git URL of the context.",
            pattern: {
                regex: /^(?:https?|ssh|git):\/\/[^\s'"`$\\#]+$|^git@[^\s'"`$\\#]+:[^\s'"`$\\#]+$/,
                expected: "a git URL without '#'",
            },
        }),
    ),
    ref: optional(
        str({ description: "Git branch, tag or commit (pin a commit: a moving branch does not trigger a rebuild).", pattern: SECRET_ID }),
    ),
    subdir: optional(str({ description: "Subdirectory of the repository.", pattern: CONTEXT_PATH })),
    gitTokenSecret: optional(
        str({ description: "Key of buildSecrets holding a token for a private HTTPS repository (GIT_AUTH_TOKEN).", pattern: SECRET_ID }),
    ),
};
const inlineFiles = optional(
    map(str({ description: "File content.", nonEmpty: false, multiline: true }), {
        description: "Inline files: relative path → content (e.g. a Dockerfile with here-documents).",
        keyPattern: CONTEXT_PATH,
    }),
);

const build = obj(
    {
        name: str({ description: "Unique build name.", pattern: HOST_NAME }),
        context: obj(
            {
                ...gitContext,
                url: optional(str({ description: "HTTP(S) tarball URL of the context.", pattern: HTTP_URL })),
                files: inlineFiles,
            },
            {
                description: "Where the build context comes from: exactly one of git, url, files.",
                checkObject: exactlyOne(["git", "url", "files"]),
            },
        ),
        ...dockerfileFields,
        tags: arr(str({ description: "An image reference.", pattern: IMAGE_REF }), {
            description: "Image references the build produces (pushed when push is true).",
            minItems: 1,
        }),
        push: bool({ description: "Push the image to its registry (the default output).", default: true }),
        exports: arr(
            obj(
                {
                    type: str({ description: "Export type.", enum: ["oci", "docker", "tar", "local"] as const }),
                    claimName: str({
                        description: "PersistentVolumeClaim (in the cluster namespace) the export is written to.",
                        pattern: K8S_NAME,
                    }),
                    path: str({ description: "Path inside the volume (a file; a directory for local).", pattern: CONTEXT_PATH }),
                },
                { description: "An extra export written to a volume." },
            ),
            { description: "Extra exports besides the image: oci, docker, tar or local, on a volume.", default: [] },
        ),
        cache: obj(
            {
                type: str({
                    description:
                        "registry: a cache image (mode=max); inline: in the pushed image; local: on a volume; none: no import/export.",
                    enum: ["registry", "inline", "local", "none"] as const,
                    default: "registry",
                }),
                ref: optional(
                    str({
                        description: "Registry cache image (default: the first tag's repository with tag buildcache).",
                        pattern: IMAGE_REF,
                    }),
                ),
                imageManifest: bool({
                    description:
                        "Store the registry cache as an OCI image manifest, for registries that refuse cache manifests (e.g. OCIR, older ECR).",
                    default: false,
                }),
                claimName: optional(str({ description: "PersistentVolumeClaim for type local.", pattern: K8S_NAME })),
            },
            { description: "Build cache.", default: {} },
        ),
        backoffLimit: int({ description: "Retries of a failed build Job.", default: 1, min: 0, max: 10 }),
        timeoutMinutes: int({
            description: "Deadline of the build Job (activeDeadlineSeconds) and of waiting for it.",
            default: 30,
            min: 1,
            max: 1440,
        }),
    },
    { description: "An image build run as a Kubernetes Job against the in-cluster daemon." },
);

const hostBuild = obj(
    {
        name: str({ description: "Unique host build name.", pattern: HOST_NAME }),
        host: optional(str({ description: "Name of the host that builds (default: the first host).", pattern: HOST_NAME })),
        context: obj(
            {
                dir: optional(
                    str({
                        description:
                            "Directory on the machine running Pulumi (relative to the project), copied to the host; .dockerignore applies.",
                        pattern: { regex: /^[A-Za-z0-9._+@/-]+$/, expected: "a directory path of plain characters, like ./devcontainer" },
                    }),
                ),
                ...gitContext,
                files: inlineFiles,
            },
            {
                description: "Where the build context comes from: exactly one of dir, git, files.",
                checkObject: exactlyOne(["dir", "git", "files"]),
            },
        ),
        ...dockerfileFields,
        tags: arr(str({ description: "An image reference.", pattern: IMAGE_REF }), {
            description: "Names the image gets in k3s's containerd.",
            minItems: 1,
        }),
        push: bool({ description: "Also push the image to its registry.", default: false }),
        keep: int({
            description:
                "Digest references kept per build in k3s's containerd: the newest is what Deployments run, older ones stay for pods still rolling off.",
            default: 2,
            min: 1,
            max: 50,
        }),
    },
    { description: "A build on a host with the host's BuildKit, straight into k3s's containerd (seed 000)." },
);

const deployment = obj(
    {
        name: str({ description: "Deployment name.", pattern: K8S_NAME }),
        namespace: str({ description: "Namespace (must exist).", default: "default", pattern: K8S_NAME }),
        build: str({ description: "Name of the builds[] or hostBuilds[] entry whose image it runs, by digest.", pattern: HOST_NAME }),
        replicas: int({ description: "Replicas.", default: 1, min: 0, max: 100 }),
        command: arr(str({ description: "An argument.", nonEmpty: false, multiline: true, maxLength: MAX_LENGTH.arg }), {
            description: "Container command (empty: the image's).",
            default: [],
        }),
    },
    { description: "A Deployment running a built image by digest: a new build rolls it out (seed 000's devcontainer)." },
);

/** Every key of the stack config (namespace `k3s-buildkit`). */
export const stackSchema = obj(
    {
        sshUser: str({ description: "Default SSH user for hosts.", default: "root", pattern: UNIX_USER }),
        sshPort: int({ description: "Default SSH port for hosts.", default: 22, min: 1, max: 65535 }),
        sshPrivateKey: optional(
            str({
                description: "OpenSSH private key used for every SSH host and bastion.",
                secret: true,
                multiline: true,
                maxLength: 65536,
            }),
        ),
        sshPrivateKeyPassphrase: optional(str({ description: "Passphrase of sshPrivateKey, if it is encrypted.", secret: true })),
        kubeconfig: optional(
            str({
                description: "Bring-your-own cluster: a kubeconfig used instead of a k3s server from hosts.",
                secret: true,
                multiline: true,
            }),
        ),
        hosts: arr(host, { description: "Machines to manage: k3s servers and agents.", default: [] }),
        k3s,
        buildkit,
        nerdctl,
        registries: map(registry, {
            description: "Registries by host: mirrors, plain HTTP, TLS and user names.",
            default: {},
            keyPattern: REGISTRY_HOST,
        }),
        registryPasswords: optional(
            map(str({ description: "Password or token." }), {
                description: "Registry passwords by registry host (a secret object).",
                secret: true,
                keyPattern: REGISTRY_HOST,
            }),
        ),
        cluster,
        builds: arr(build, { description: "Image builds run as Kubernetes Jobs.", default: [] }),
        hostBuilds: arr(hostBuild, { description: "Image builds on a host, into k3s's containerd.", default: [] }),
        buildSecrets: optional(
            map(str({ description: "Secret value.", multiline: true, maxLength: 65536 }), {
                description: "Build secrets and git tokens by id (a secret object).",
                secret: true,
                keyPattern: SECRET_ID,
            }),
        ),
        deployments: arr(deployment, { description: "Deployments that run built images by digest.", default: [] }),
    },
    { description: "Stack config." },
);

/** The validated stack config, defaults applied. Secret values are plain here; see {@link StackConfig}. */
export type ParsedConfig = Infer<typeof stackSchema>;
export type HostConfig = ParsedConfig["hosts"][number];

/** Top-level keys whose value must be a Pulumi secret. */
export const SECRET_KEYS: readonly string[] = Object.entries(stackSchema.fields)
    .filter(([, f]) => f.secret === true)
    .map(([k]) => k);

/** Raw stack config: top-level key (without `k3s-buildkit:`) → the string Pulumi hands the program. */
export interface RawConfig {
    readonly values: Readonly<Record<string, string>>;
    /** Keys that are stored as secrets. */
    readonly secretKeys: ReadonlySet<string>;
}

/** Thrown when stack config is invalid; the message lists every problem, one per line. */
export class ConfigError extends Error {
    constructor(readonly issues: readonly ConfigIssue[]) {
        super(
            `invalid stack config (${issues.length} problem${issues.length === 1 ? "" : "s"}); nothing was changed:\n` +
                issues.map((i) => `  - ${formatIssue(i)}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** Turns a raw string into the JSON value its schema kind expects; scalars stay strings when unparsable. */
function decodeRaw(kind: string, raw: string): unknown {
    switch (kind) {
        case "string":
            return raw;
        case "integer":
            return /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
        case "boolean":
            return raw === "true" ? true : raw === "false" ? false : raw;
        default:
            return JSON.parse(raw) as unknown;
    }
}

/** Whether Pulumi runs as root on this machine (decides sudo for local hosts). */
export interface LocalFacts {
    readonly runningAsRoot: boolean;
}

/**
 * Validates raw stack config and applies defaults. Pure. Returns every problem at once, each with
 * its key path; the config is returned only when there is none.
 */
export function parseConfig(raw: RawConfig, local: LocalFacts): { config?: ResolvedConfig; issues: ConfigIssue[] } {
    const issues: ConfigIssue[] = [];
    const decoded: Record<string, unknown> = {};
    const known = Object.keys(stackSchema.fields);
    for (const [key, text] of Object.entries(raw.values)) {
        const field = (stackSchema.fields as Record<string, { kind: string } | undefined>)[key];
        if (field === undefined) {
            issues.push({ path: key, message: unknownKeyMessage(key, known) });
            continue;
        }
        try {
            decoded[key] = decodeRaw(field.kind, text);
        } catch {
            issues.push({
                path: key,
                message: `is not valid JSON; set structured values in Pulumi.<stack>.yaml or with pulumi config set --path`,
            });
        }
    }
    for (const key of SECRET_KEYS) {
        if (raw.values[key] !== undefined && !raw.secretKeys.has(key)) {
            issues.push({ path: key, message: `must be stored as a secret; set it with: pulumi config set --secret ${key} …` });
        }
    }
    const before = issues.length;
    const parsed = parseField(stackSchema, decoded, "", issues) as ParsedConfig;
    if (issues.length > before) return { issues };
    issues.push(...crossCheck(parsed));
    if (issues.length > 0) return { issues };
    return { config: resolve(parsed, local), issues };
}

/** Rules that span several keys. */
function crossCheck(c: ParsedConfig): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const firstByName = new Map<string, number>();
    let localIndex: number | undefined;
    c.hosts.forEach((h, i) => {
        const at = `hosts[${i}]`;
        const seen = firstByName.get(h.name);
        if (seen !== undefined) {
            issues.push({ path: `${at}.name`, message: `"${h.name}" is already used by hosts[${seen}]; host names must be unique` });
        } else {
            firstByName.set(h.name, i);
        }
        if (h.connection === "ssh" && h.address === undefined) {
            issues.push({ path: `${at}.address`, message: `is required when connection is "ssh": set the host's IP address or DNS name` });
        }
        if (h.connection === "local") {
            for (const k of ["address", "port", "user", "hostKey", "bastion"] as const) {
                if (h[k] !== undefined) {
                    issues.push({
                        path: `${at}.${k}`,
                        message: `is not used when connection is "local"; remove it, or set connection: ssh`,
                    });
                }
            }
            if (localIndex !== undefined) {
                issues.push({ path: `${at}.connection`, message: `only one host can be "local" (hosts[${localIndex}] already is)` });
            }
            localIndex ??= i;
        }
    });
    if (c.hosts.length > 0 && c.hosts[0].role !== "server") {
        issues.push({
            path: "hosts[0].role",
            message: `the first host must be a "server": it initialises the cluster, and agents and other servers join it`,
        });
    }
    if (c.k3s.airgap.imagesUrl !== undefined && c.k3s.airgap.imagesPath !== undefined) {
        issues.push({ path: "k3s.airgap.imagesPath", message: "set either imagesUrl or imagesPath, not both" });
    }
    c.hosts.forEach((h, i) => {
        if (h.apiAddress !== undefined && h.role !== "server") {
            issues.push({ path: `hosts[${i}].apiAddress`, message: 'is only used on hosts with role "server"; remove it' });
        }
    });
    if (c.hosts.length > 1 && c.hosts[0].connection === "local" && c.hosts[0].apiAddress === undefined) {
        issues.push({
            path: "hosts[0].apiAddress",
            message: "is required when other hosts join a local first server: set the address they can reach it on",
        });
    }
    const firstSsh = c.hosts.findIndex((h) => h.connection === "ssh");
    if (firstSsh >= 0 && c.sshPrivateKey === undefined) {
        issues.push({
            path: "sshPrivateKey",
            message: `is required because hosts[${firstSsh}] connects over SSH; set it with: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`,
        });
    }
    if (c.kubeconfig !== undefined && c.hosts.length > 0) {
        issues.push({
            path: "kubeconfig",
            message: "set either kubeconfig (bring your own cluster) or hosts (the k3s server's kubeconfig is used), not both",
        });
    }
    if (c.kubeconfig === undefined && c.hosts.length === 0) {
        issues.push({
            path: "hosts",
            message:
                "no hosts and no kubeconfig: add at least one host (e.g. { name: local, connection: local }) or set the secret kubeconfig",
        });
    }
    issues.push(...checkBuilds(c));
    const passwords: Readonly<Record<string, string>> = c.registryPasswords ?? {};
    for (const [hostName, r] of Object.entries(c.registries)) {
        if (r.username !== undefined && !Object.hasOwn(passwords, hostName)) {
            issues.push({
                path: `registries[${JSON.stringify(hostName)}].username`,
                message: `has no password; set it with: pulumi config set --secret --path 'registryPasswords["${hostName}"]' …`,
            });
        }
        if (r.http && r.insecure) {
            issues.push({
                path: `registries[${JSON.stringify(hostName)}].insecure`,
                message:
                    "cannot be combined with http: true (insecure means HTTPS without certificate checks); keep only the one that matches the registry",
            });
        }
    }
    for (const hostName of Object.keys(passwords)) {
        if (!Object.hasOwn(c.registries, hostName) || c.registries[hostName].username === undefined) {
            issues.push({
                path: `registryPasswords[${JSON.stringify(hostName)}]`,
                message: `has no matching registries["${hostName}"].username; add the user name there or remove this password`,
            });
        }
    }
    return issues;
}

/** Rules for builds, host builds and deployments. */
function checkBuilds(c: ParsedConfig): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const secretIds = new Set(Object.keys(c.buildSecrets ?? {}));
    const names = new Map<string, string>();
    const unique = (name: string, at: string) => {
        const seen = names.get(name);
        if (seen !== undefined)
            issues.push({ path: `${at}.name`, message: `"${name}" is already used by ${seen}; build names must be unique` });
        else names.set(name, at);
    };
    const needSecret = (id: string, at: string) => {
        if (!secretIds.has(id)) {
            issues.push({
                path: at,
                message: `names the build secret "${id}", which buildSecrets does not have; set it with: pulumi config set --secret --path 'buildSecrets["${id}"]' …`,
            });
        }
    };
    type AnyBuild = ParsedConfig["builds"][number] | ParsedConfig["hostBuilds"][number];
    const common = (b: AnyBuild, at: string) => {
        unique(b.name, at);
        b.secrets.forEach((id, j) => needSecret(id, `${at}.secrets[${j}]`));
        const ctx = b.context;
        if (ctx.gitTokenSecret !== undefined) needSecret(ctx.gitTokenSecret, `${at}.context.gitTokenSecret`);
        if (ctx.git === undefined) {
            for (const k of ["ref", "subdir", "gitTokenSecret"] as const) {
                if (ctx[k] !== undefined) issues.push({ path: `${at}.context.${k}`, message: "is only used with context.git; remove it" });
            }
        }
    };
    c.builds.forEach((b, i) => {
        const at = `builds[${i}]`;
        common(b, at);
        if (!c.cluster.enabled) {
            issues.push({
                path: `${at}`,
                message: "builds run against the in-cluster daemon, but cluster.enabled is false; enable it or use hostBuilds",
            });
        }
        const cache = b.cache;
        if (cache.type === "local" && cache.claimName === undefined) {
            issues.push({ path: `${at}.cache.claimName`, message: 'is required when cache.type is "local": name a PersistentVolumeClaim' });
        }
        if (cache.type !== "local" && cache.claimName !== undefined) {
            issues.push({ path: `${at}.cache.claimName`, message: 'is only used when cache.type is "local"; remove it' });
        }
        if (cache.type !== "registry" && (cache.ref !== undefined || cache.imageManifest)) {
            issues.push({
                path: `${at}.cache.${cache.ref !== undefined ? "ref" : "imageManifest"}`,
                message: 'is only used when cache.type is "registry"; remove it',
            });
        }
        if (cache.type === "inline" && !b.push) {
            issues.push({
                path: `${at}.cache.type`,
                message: '"inline" stores the cache in the pushed image, so it needs push: true; use "registry" or "local"',
            });
        }
    });
    const hostNames = new Set(c.hosts.map((h) => h.name));
    c.hostBuilds.forEach((b, i) => {
        const at = `hostBuilds[${i}]`;
        common(b, at);
        if (c.hosts.length === 0) {
            issues.push({ path: at, message: "host builds need hosts; with a bring-your-own kubeconfig use builds instead" });
        } else if (b.host !== undefined && !hostNames.has(b.host)) {
            issues.push({
                path: `${at}.host`,
                message: `"${b.host}" is not a host; expected one of ${[...hostNames].map((n) => `"${n}"`).join(", ")}`,
            });
        }
    });
    const deploymentNames = new Set<string>();
    c.deployments.forEach((d, i) => {
        const at = `deployments[${i}]`;
        const key = `${d.namespace}/${d.name}`;
        if (deploymentNames.has(key)) issues.push({ path: `${at}.name`, message: `"${key}" is already used by another deployment` });
        deploymentNames.add(key);
        if (!names.has(d.build)) {
            const known = [...names.keys()].map((n) => `"${n}"`).join(", ");
            issues.push({
                path: `${at}.build`,
                message: `"${d.build}" is not a build; expected the name of a builds[] or hostBuilds[] entry${known === "" ? "" : ` (${known})`}`,
            });
        }
    });
    return issues;
}

// ---- resolved config: what components consume --------------------------------------------------

/** How to reach a host. Secret material is not here: see {@link StackConfig.secrets}. */
export type ConnectionConfig =
    | {
          readonly kind: "ssh";
          readonly host: string;
          readonly port: number;
          readonly user: string;
          readonly sudo: boolean;
          readonly hostKey?: string;
          readonly bastion?: { readonly host: string; readonly port: number; readonly user: string; readonly hostKey?: string };
          readonly dialErrorLimit: number;
          readonly dialTimeoutSeconds: number;
      }
    | { readonly kind: "local"; readonly sudo: boolean };

export interface ResolvedHost {
    readonly name: string;
    readonly role: "server" | "agent";
    readonly connection: ConnectionConfig;
    /** Servers: the address joining nodes and the kubeconfig use. */
    readonly apiAddress: string;
}

/** Validated config with host defaults resolved. Secret values are still plain strings here. */
export interface ResolvedConfig extends Omit<ParsedConfig, "hosts"> {
    readonly hosts: readonly ResolvedHost[];
}

function resolve(c: ParsedConfig, local: LocalFacts): ResolvedConfig {
    const hosts = c.hosts.map((h): ResolvedHost => {
        if (h.connection === "local") {
            return {
                name: h.name,
                role: h.role,
                connection: { kind: "local", sudo: h.sudo ?? !local.runningAsRoot },
                apiAddress: h.apiAddress ?? "127.0.0.1",
            };
        }
        const user = h.user ?? c.sshUser;
        return {
            name: h.name,
            role: h.role,
            apiAddress: h.apiAddress ?? h.address ?? "",
            connection: {
                kind: "ssh",
                host: h.address ?? "",
                port: h.port ?? c.sshPort,
                user,
                sudo: h.sudo ?? user !== "root",
                ...(h.hostKey === undefined ? {} : { hostKey: h.hostKey }),
                ...(h.bastion === undefined
                    ? {}
                    : {
                          bastion: {
                              host: h.bastion.address,
                              port: h.bastion.port,
                              user: h.bastion.user,
                              ...(h.bastion.hostKey === undefined ? {} : { hostKey: h.bastion.hostKey }),
                          },
                      }),
                dialErrorLimit: h.dialErrorLimit,
                dialTimeoutSeconds: h.dialTimeoutSeconds,
            },
        };
    });
    return { ...c, hosts };
}

// ---- the program's view: secrets as Outputs -----------------------------------------------------

/** Secrets from stack config, each a secret Output. */
export interface StackSecrets {
    readonly sshPrivateKey?: pulumi.Output<string>;
    readonly sshPrivateKeyPassphrase?: pulumi.Output<string>;
    readonly kubeconfig?: pulumi.Output<string>;
    readonly registryPasswords: pulumi.Output<Record<string, string>>;
    readonly buildSecrets: pulumi.Output<Record<string, string>>;
}

/** The stack config as components consume it: plain settings, and secrets wrapped as secret Outputs. */
export interface StackConfig {
    readonly settings: Omit<
        ResolvedConfig,
        "sshPrivateKey" | "sshPrivateKeyPassphrase" | "kubeconfig" | "registryPasswords" | "buildSecrets"
    >;
    readonly secrets: StackSecrets;
}

/** Wraps secret values as secret Outputs and removes them from the plain settings. */
export function toStackConfig(c: ResolvedConfig): StackConfig {
    const { sshPrivateKey, sshPrivateKeyPassphrase, kubeconfig, registryPasswords, buildSecrets, ...settings } = c;
    return {
        settings,
        secrets: {
            ...(sshPrivateKey === undefined ? {} : { sshPrivateKey: pulumi.secret(sshPrivateKey) }),
            ...(sshPrivateKeyPassphrase === undefined ? {} : { sshPrivateKeyPassphrase: pulumi.secret(sshPrivateKeyPassphrase) }),
            ...(kubeconfig === undefined ? {} : { kubeconfig: pulumi.secret(kubeconfig) }),
            registryPasswords: pulumi.secret<Record<string, string>>(registryPasswords ?? {}),
            buildSecrets: pulumi.secret<Record<string, string>>(buildSecrets ?? {}),
        },
    };
}

/** Host build directories must exist (relative ones are resolved against `baseDir`, the project directory). */
export function checkContextDirs(c: Pick<ResolvedConfig, "hostBuilds">, baseDir: string): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    c.hostBuilds.forEach((b, i) => {
        const dir = b.context.dir;
        if (dir === undefined) return;
        const full = resolvePath(baseDir, dir);
        let ok = false;
        try {
            ok = statSync(full).isDirectory();
        } catch {
            ok = false;
        }
        if (!ok) {
            issues.push({
                path: `hostBuilds[${i}].context.dir`,
                message: `${JSON.stringify(dir)} is not a directory (looked at ${full}); relative paths start at the Pulumi project directory`,
            });
        }
    });
    return issues;
}

/**
 * Secret keys whose value in the stack file is an object or list with a leaf stored in plain text. Pulumi
 * marks a whole key secret when any one leaf is `secure:`, so the runtime cannot tell; the stack file can.
 * Reads the file's `config:` section (`k3s-buildkit:<key>`); never quotes a value.
 */
export function plainSecretLeaves(stackFileText: string, stackFile: string): ConfigIssue[] {
    let doc: unknown;
    try {
        doc = parseYaml(stackFileText);
    } catch {
        return [{ path: "", message: `${stackFile} is not valid YAML` }];
    }
    const config = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
    const issues: ConfigIssue[] = [];
    const visit = (node: unknown, path: string, key: string) => {
        if (typeof node === "object" && node !== null && !Array.isArray(node)) {
            const o = node as Record<string, unknown>;
            if (Object.keys(o).length === 1 && typeof o.secure === "string") return;
            for (const [k, v] of Object.entries(o)) visit(v, joinPath(path, k), key);
            return;
        }
        if (Array.isArray(node)) {
            node.forEach((v, i) => visit(v, joinPath(path, i), key));
            return;
        }
        if (node === null || node === undefined) return;
        issues.push({
            path,
            message: `is stored in plain text in ${stackFile}; every value of ${key} must be a secret: pulumi config set --secret --path '${path}' …`,
        });
    };
    for (const key of SECRET_KEYS) visit(config[`${PROJECT}:${key}`], key, key);
    return issues;
}

/** `pulumi.runtime.isConfigSecret`: exported by the SDK's runtime but missing from its typings. */
function isConfigSecret(fullKey: string): boolean {
    const fn = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    if (fn === undefined) throw new Error("@pulumi/pulumi no longer exports runtime.isConfigSecret; update loadStackConfig");
    return fn(fullKey);
}

/**
 * Reads the whole stack config from the Pulumi runtime and validates it. Throws {@link ConfigError},
 * listing every problem, before any resource is created.
 */
export function loadStackConfig(): StackConfig {
    const all = pulumi.runtime.allConfig();
    const prefix = `${PROJECT}:`;
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    for (const [fullKey, value] of Object.entries(all)) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        values[key] = value;
        if (isConfigSecret(fullKey)) secretKeys.add(key);
    }
    const { config, issues } = parseConfig({ values, secretKeys }, { runningAsRoot: process.getuid?.() === 0 });
    const stackFile = `Pulumi.${pulumi.getStack()}.yaml`;
    if (existsSync(stackFile)) issues.push(...plainSecretLeaves(readFileSync(stackFile, "utf8"), stackFile));
    if (config === undefined || issues.length > 0) throw new ConfigError(issues);
    const missing = checkContextDirs(config, process.cwd());
    if (missing.length > 0) throw new ConfigError(missing);
    return toStackConfig(config);
}
