/** Field shapes and patterns shared by the config's parts: addresses, paths, URLs, names, versions. Pure. */
import { isIP } from "node:net";
import { type ConfigIssue, quoteValue, str } from "./schema";

/** A DNS name: labels of letters, digits and inner '-', 253 characters at most. Linear: labels are split by a literal '.'. */
export const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** An IPv4 or IPv6 address (IPv6 optionally in brackets), or a DNS name that does not look like a broken IPv4 address. */
export function isHostOrIp(value: string): boolean {
    const bare = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
    if (isIP(bare) !== 0) return bare === value || isIP(bare) === 6;
    return bare === value && DNS_NAME.test(value) && !/^[0-9.]+$/.test(value);
}

/** A string field holding a DNS name or an IP address. */
export function hostOrIp(description: string, o: { requiredMessage?: string } = {}) {
    return str({
        description,
        ...o,
        maxLength: 255,
        check: (v) =>
            isHostOrIp(v) ? undefined : `expected a DNS name or an IP address (like 10.0.0.5 or build-1.example.com); got ${quoteValue(v)}`,
    });
}

/**
 * Directories (and everything below them) that belong to the operating system: a data directory there
 * would have the system's files deleted with it.
 */
export const SYSTEM_TREES = [
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
];
/** Directories that hold other things than ours: refused themselves (a directory below them is fine). */
export const SYSTEM_DIRS = [
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
export function absolutePath(o: { description: string; default?: string; ownedBecause?: string }) {
    return str({
        description: o.description,
        ...(o.default === undefined ? {} : { default: o.default }),
        check: (v) => absolutePathProblem(v) ?? (o.ownedBecause === undefined ? undefined : systemDirectoryProblem(v, o.ownedBecause)),
    });
}

export const HOST_NAME = {
    regex: /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/,
    expected: "a lowercase DNS label of at most 40 characters (a-z, 0-9, '-'), like \"server-1\"",
};
export const UNIX_USER = {
    regex: /^[a-z_][a-z0-9_-]{0,31}$/,
    expected: "a Unix user name (lowercase letters, digits, '_' or '-', like \"ubuntu\")",
};
export const HOST_KEY = {
    regex: /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]+={0,3}$/,
    expected: 'an OpenSSH public host key line like "ssh-ed25519 AAAAC3Nza…" (from ssh-keyscan, without the host name)',
};
export const HTTP_URL = {
    regex: /^https?:\/\/[A-Za-z0-9[][^\s'"`$\\]*$/,
    expected: "an http:// or https:// URL without spaces, quotes, '$' or backslashes",
};
export const SHA256 = { regex: /^[0-9a-f]{64}$/, expected: "a sha256 checksum: 64 lowercase hex digits" };
export const REGISTRY_HOST = {
    regex: /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::[0-9]{1,5})?$/,
    expected: 'a registry host, optionally with a port, like "docker.io" or "10.0.0.9:5000"',
};
export const PLATFORM = {
    regex: /^linux\/(?:amd64|arm64|arm\/v[67]|386|ppc64le|s390x|riscv64)$/,
    expected: 'a platform like "linux/amd64" or "linux/arm64"',
};

/** Kubernetes names and labels (linear patterns: each repetition is bounded or split by a literal). */
export const K8S_SUBDOMAIN = {
    regex: /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/,
    expected: 'a Kubernetes object name (lowercase DNS subdomain), like "local-path"',
};
export const LABEL_KEY = {
    regex: /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\/)?[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/,
    expected: 'a Kubernetes label or resource name, optionally with a prefix, like "kubernetes.io/os" or "memory"',
};
export const LABEL_VALUE = {
    regex: /^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/,
    expected: "a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
};
export const QUANTITY = {
    regex: /^[0-9]+(?:\.[0-9]+)?(?:m|k|[KMGTPE]i?|[eE][0-9]+)?$/,
    expected: 'a Kubernetes quantity like "500m", "2" or "4Gi"',
};

export const version = (pattern: RegExp, example: string) => ({
    regex: pattern,
    expected: `a pinned release version like "${example}" ("latest" and ranges are not allowed: a preview must mean the same tomorrow)`,
});

/** Release versions pinned by default. Each was checked to exist as a release tag. */
export const DEFAULT_VERSIONS = {
    k3s: "v1.35.6+k3s1",
    buildkit: "v0.33.1",
    nerdctl: "2.4.1",
} as const;

export const IMAGE_REF = {
    regex: /^[a-z0-9][a-z0-9._:/@-]*$/,
    expected: "an image reference like registry.example.com/team/app:1.0",
};
/** A relative path inside a context: no leading '/', no '..' segment. */
export const CONTEXT_PATH = {
    regex: /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._+@/-]+$/,
    expected: "a relative path of plain characters inside the context, like docker/Dockerfile (no '..')",
};
export const SECRET_ID = {
    regex: /^(?!\.\.?$)[A-Za-z0-9_.-]{1,128}$/,
    expected: "a secret id of letters, digits, '_', '.' or '-' (not \".\" or \"..\"), at most 128 characters",
};
/** Build-arg names: BuildKit splits `build-arg:K=V` at the first '=', so a name cannot hold one. */
export const BUILD_ARG_NAME = {
    regex: /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/,
    expected: "a build-arg name: a letter or '_', then letters, digits, '_', '.' or '-' (no '='), like HTTP_PROXY",
};
export const K8S_NAME = { regex: /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, expected: "a Kubernetes name (DNS label)" };

/** Exactly one of the given keys is set. */
export function exactlyOne(keys: readonly string[]): (c: object) => ConfigIssue[] {
    return (c) => {
        const given = keys.filter((k) => (c as Record<string, unknown>)[k] !== undefined);
        return given.length === 1
            ? []
            : [{ path: "", message: `set exactly one of ${keys.join(", ")}; got ${given.length === 0 ? "none" : given.join(" and ")}` }];
    };
}

/**
 * A git ref BuildKit can fetch: a branch or tag name (git's ref-name rules: no "..", "//", "@{", leading
 * "-", trailing "/", "." or ".lock"; no ':' or '#', which BuildKit's git URL uses), or a full commit SHA.
 */
export const GIT_REF = {
    regex: /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!.*(?:\/|\.|\.lock)$)[A-Za-z0-9._/+@-]{1,255}$/,
    expected: 'a branch or tag name (like "main" or "release/1.2") or a full commit SHA',
};

/** Why a git ref is refused beyond its pattern: BuildKit fetches full commit SHAs only, never abbreviated ones. */
export function gitRefProblem(ref: string): string | undefined {
    return /^[0-9a-f]{7,39}$/.test(ref)
        ? `${JSON.stringify(ref)} looks like an abbreviated commit SHA, which BuildKit cannot fetch ("repository does not contain ref"); use the full commit SHA (40 hex digits, git rev-parse ${ref}), or a branch or tag name`
        : undefined;
}
