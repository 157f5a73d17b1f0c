/**
 * BuildKit's garbage-collection limits derived from the disk the daemon's state lives on, so its cache
 * never fills that disk, with a hard ceiling on what a large disk lets the cache take. Pure.
 *
 * BuildKit reads sizes in buildkitd.toml as binary units ("1GB" is 1024³ bytes; `units.RAMInBytes`), and
 * a percentage ("20%") of the filesystem its root is on. The derived limits are written as sizes, so the
 * rendered file says what they are.
 */

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** What the derived limits are made of; each share is a percentage of the disk. */
export interface GcDerivation {
    /** Share of the disk GC always keeps (BuildKit's own default is 10%, at most 10 GB). */
    readonly reservedPercent: number;
    readonly reservedCeiling: number;
    /** Share of the disk the cache may use before GC runs. */
    readonly maxUsedPercent: number;
    /** The most the cache may use, however large the disk (bytes). */
    readonly maxUsedCeiling: number;
    /** Free space GC keeps on the disk. */
    readonly minFreePercent: number;
}

/** The defaults: BuildKit's own shares, with the cache's share below the 80% BuildKit allows. */
export const DEFAULT_GC_DERIVATION: GcDerivation = {
    reservedPercent: 10,
    reservedCeiling: 10 * GiB,
    maxUsedPercent: 60,
    maxUsedCeiling: 100 * GiB,
    minFreePercent: 20,
};

export interface GcLimits {
    readonly reservedSpace: string;
    readonly maxUsedSpace: string;
    readonly minFreeSpace: string;
}

/**
 * A size as buildkitd.toml reads it, rounded down: whole GiB ("12GB") from 10 GiB up or when exact, else
 * whole MiB ("4915MB").
 */
export function formatSize(bytes: number): string {
    const mib = Math.floor(bytes / MiB);
    return mib % 1024 === 0 || mib >= 10 * 1024 ? `${Math.floor(mib / 1024)}GB` : `${mib}MB`;
}

/**
 * Limits for a disk of `diskBytes`: reserve min(10%, 10 GB), use at most min(60%, ceiling), keep 20%
 * free. Undefined when the disk size is unknown (0), so BuildKit applies its own defaults at start.
 */
export function deriveGcLimits(diskBytes: number, d: GcDerivation = DEFAULT_GC_DERIVATION): GcLimits | undefined {
    if (!Number.isFinite(diskBytes) || diskBytes <= 0) return undefined;
    const share = (percent: number) => (diskBytes * percent) / 100;
    const maxUsed = Math.min(share(d.maxUsedPercent), d.maxUsedCeiling);
    return {
        reservedSpace: formatSize(Math.min(share(d.reservedPercent), d.reservedCeiling, maxUsed)),
        maxUsedSpace: formatSize(maxUsed),
        minFreeSpace: formatSize(share(d.minFreePercent)),
    };
}

/** Bytes of a Kubernetes storage quantity as `cluster.stateSize` allows it ("50Gi", "512Mi", "1Ti"). */
export function quantityBytes(quantity: string): number {
    const m = /^(\d+)(Mi|Gi|Ti)$/.exec(quantity);
    if (m === null) throw new Error(`not a storage quantity: ${JSON.stringify(quantity)}`);
    return Number(m[1]) * { Mi: MiB, Gi: GiB, Ti: 1024 * GiB }[m[2] as "Mi" | "Gi" | "Ti"];
}

/** Parses a size the way buildkitd.toml does for the units this program writes or accepts ("10GB", "512MB", "1TB", "100"). */
export function parseSize(size: string): number | undefined {
    const m = /^(\d+)([KMGT]B)?$/.exec(size);
    if (m === null) return undefined;
    const unit = { KB: 1024, MB: MiB, GB: GiB, TB: 1024 * GiB }[m[2] ?? ""] ?? 1;
    return Number(m[1]) * unit;
}

/** GC settings as `buildkit.gc` holds them. */
export interface GcSettings {
    readonly enabled: boolean;
    readonly reservedSpace?: string;
    readonly maxUsedSpace?: string;
    readonly minFreeSpace?: string;
    readonly maxUsedCeiling: string;
}

/**
 * The GC limits a daemon gets: the ones set in config, as given; with none set, the ones derived from its
 * disk (`diskBytes`); with the disk unknown (a node's hostPath), shares BuildKit applies to the disk at
 * start (10% reserved, 20% kept free) and the ceiling.
 */
export function effectiveGc(
    gc: GcSettings,
    diskBytes: number | undefined,
    /** The escape hatch brings its own `gcpolicy` rules, which BuildKit uses instead: derive nothing. */
    ownPolicy = false,
): {
    enabled: boolean;
    reservedSpace?: string;
    maxUsedSpace?: string;
    minFreeSpace?: string;
} {
    const { enabled, reservedSpace, maxUsedSpace, minFreeSpace } = gc;
    if (ownPolicy || reservedSpace !== undefined || maxUsedSpace !== undefined || minFreeSpace !== undefined) {
        return {
            enabled,
            ...(reservedSpace === undefined ? {} : { reservedSpace }),
            ...(maxUsedSpace === undefined ? {} : { maxUsedSpace }),
            ...(minFreeSpace === undefined ? {} : { minFreeSpace }),
        };
    }
    const ceiling = parseSize(gc.maxUsedCeiling) ?? DEFAULT_GC_DERIVATION.maxUsedCeiling;
    if (diskBytes === undefined || diskBytes <= 0) {
        return { enabled, reservedSpace: "10%", maxUsedSpace: formatSize(ceiling), minFreeSpace: "20%" };
    }
    return { enabled, ...deriveGcLimits(diskBytes, { ...DEFAULT_GC_DERIVATION, maxUsedCeiling: ceiling }) };
}
