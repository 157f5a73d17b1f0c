/** Stack config: BuildKit and nerdctl on every host. */
import { absolutePath, DEFAULT_VERSIONS, HTTP_URL, PLATFORM, SHA256, version } from "./fields";
import { arr, bool, int, json, map, obj, optional, str } from "./schema";

const SIZE = { regex: /^\d+(?:[KMGT]B)?$/, expected: 'a size like "100GB" or "512MB" (binary units: 1GB is 1024³ bytes)' };

export const buildkit = obj(
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
                maxUsedCeiling: str({
                    description:
                        "With none of the three limits set, they are derived from the disk BuildKit's state is on (the host's buildkit.root filesystem, the in-cluster state volume): reserve 10% (at most 10GB), use at most 60% but never more than this, keep 20% free.",
                    default: "100GB",
                    pattern: SIZE,
                }),
            },
            {
                description:
                    "BuildKit GC (v0.17+ keys). Sizes are binary: BuildKit reads 1GB as 1024³ bytes; a percentage is of the disk BuildKit's root is on. Unset limits are derived from the disk (see maxUsedCeiling); the rendered buildkitd.toml shows them.",
                default: {},
            },
        ),
        maxParallelism: optional(
            int({
                description:
                    "Build steps a daemon runs at once (worker max-parallelism). Default: the host's CPU count; in the cluster, the daemon's CPU limit (rounded up) when cluster.resources.limits.cpu is set, else unlimited.",
                min: 1,
                max: 1024,
            }),
        ),
        history: obj(
            {
                maxAgeHours: int({ description: "Hours a finished build's record is kept.", default: 48, min: 1, max: 24 * 365 }),
                maxEntries: int({
                    description:
                        "Finished build records kept. At least 1: with 0 BuildKit records no builds, and a restart could no longer see the builds it must wait for.",
                    default: 50,
                    min: 1,
                    max: 100000,
                }),
            },
            {
                description: "BuildKit's build history (buildkitd.toml [history]), for buildctl debug histories and buildx history.",
                default: {},
            },
        ),
        prune: obj(
            {
                schedule: optional(
                    str({
                        description:
                            'When to prune each host daemon\'s build cache, as a systemd calendar event (OnCalendar: "daily", "Sun *-*-* 03:00"); unset: no scheduled prune (GC still runs).',
                        maxLength: 128,
                        pattern: {
                            regex: /^[A-Za-z0-9*][A-Za-z0-9*:/,.~+ -]*$/,
                            expected:
                                'a systemd calendar event like "daily" or "Sun *-*-* 03:00" (letters, digits, space and * : / , . ~ + -)',
                        },
                    }),
                ),
                keepDurationHours: int({
                    description: "A scheduled prune keeps cache used within this many hours.",
                    default: 168,
                    min: 0,
                    max: 24 * 3650,
                }),
                keepStorageMB: optional(
                    int({
                        description: "A scheduled prune keeps up to this much cache (MB, as buildctl prune --keep-storage).",
                        min: 1,
                        max: 1024 * 1024 * 1024,
                    }),
                ),
            },
            { description: "`buildctl prune` on a schedule on every host (a systemd timer, buildkit-prune.timer).", default: {} },
        ),
        buildGraceSeconds: int({
            description:
                "Longest a daemon restart (a BuildKit upgrade or config change on a host; a rolled or drained in-cluster pod) waits for the builds running on it, read from BuildKit's build history; past it the daemon restarts anyway.",
            default: 900,
            min: 0,
            max: 86400,
        }),
        debug: bool({ description: "buildkitd debug logging.", default: false }),
        extraConfig: json({
            description:
                "Any buildkitd.toml keys for the host daemons, as a YAML map deep-merged over the rendered file (`grpc: { debugAddress: … }`, `history: { maxAge: … }`, `worker: { containerd: { gcpolicy: [ … ] } }`, `dns: …`). Keys the program manages are refused.",
            default: {},
        }),
    },
    { description: "BuildKit on every host, using k3s's containerd as its worker.", default: {} },
);

export const nerdctl = obj(
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
