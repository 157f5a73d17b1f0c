/**
 * The K3sCertificates dynamic provider and its pure parts; no run-time import of the Pulumi SDK (see
 * ./runner.ts).
 *
 * `K3sCertificates`: when a node's k3s certificates expire, as k3s itself reports it (`k3s certificate
 * check --output json`: every client and server certificate of the node, `ExpiryTime` each). Read when
 * created and on every `pulumi refresh`, so the stack output shows the expiry the host has now: k3s renews
 * certificates at start when they are within 120 days of expiry, and `k3s certificate rotate` replaces them.
 * It changes nothing on the host.
 */
import type * as pulumi from "@pulumi/pulumi";
import { STATE_ONLY } from "./host-file-provider";
import { targetIdentity, targetLabel, type TransportTarget } from "./runner";
import { renderScript } from "../render/shell";
import { runScript } from "./transport";

export interface K3sCertificatesInputs {
    readonly target: TransportTarget;
    /** k3s's data directory (`k3s.dataDir`). */
    readonly dataDir: string;
    readonly providerVersion: string;
}

export interface K3sCertificatesState extends K3sCertificatesInputs {
    /** The earliest expiry among the node's certificates (RFC 3339, UTC); "" when k3s reported none. */
    readonly expiresAt: string;
    /** How many certificates k3s reported. */
    readonly count: number;
}

/** The script that asks k3s; an older k3s without `certificate check` answers nothing (not an error). */
export function certificateCheckScript(dataDir: string): string {
    return renderScript(
        `k3s certificate check --output json --data-dir "$K3S_DATA_DIR" 2>/dev/null || echo '{"Certificates":null}'
`,
        { K3S_DATA_DIR: dataDir },
    );
}

/** The earliest `ExpiryTime` of k3s's JSON answer, and how many certificates it listed. */
export function parseCertificateCheck(out: string): { expiresAt: string; count: number } {
    const line = out
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.trim().startsWith("{"));
    if (line === undefined) return { expiresAt: "", count: 0 };
    const doc = JSON.parse(line) as { Certificates?: { ExpiryTime?: unknown }[] | null };
    const times = (doc.Certificates ?? [])
        .map((c) => (typeof c.ExpiryTime === "string" ? Date.parse(c.ExpiryTime) : NaN))
        .filter((t) => Number.isFinite(t));
    if (times.length === 0) return { expiresAt: "", count: 0 };
    return { expiresAt: new Date(Math.min(...times)).toISOString().replace(/\.000Z$/, "Z"), count: times.length };
}

export function certificatesChanges(olds: K3sCertificatesInputs, news: K3sCertificatesInputs): string[] {
    const changes: string[] = [];
    if (olds.dataDir !== news.dataDir) changes.push("dataDir");
    if (olds.providerVersion !== news.providerVersion) changes.push("providerVersion");
    if (JSON.stringify(targetIdentity(olds.target)) !== JSON.stringify(targetIdentity(news.target))) changes.push("target");
    else if (JSON.stringify(olds.target) !== JSON.stringify(news.target)) changes.push("credentials");
    return changes;
}

const check = async (i: K3sCertificatesInputs) =>
    parseCertificateCheck(await runScript(i.target, certificateCheckScript(i.dataDir), "reading k3s's certificates"));

export const k3sCertificatesProvider: pulumi.dynamic.ResourceProvider<K3sCertificatesInputs, K3sCertificatesState> = {
    async diff(_id, olds, news) {
        return { changes: certificatesChanges(olds, news).length > 0 };
    },
    async create(inputs) {
        return { id: `${targetLabel(inputs.target)}:k3s-certificates`, outs: { ...inputs, ...(await check(inputs)) } };
    },
    async read(id, props) {
        if (props === undefined) throw new Error(`K3sCertificates ${id}: cannot read without state`);
        return { id, props: { ...props, ...(await check(props)) } };
    },
    async update(_id, olds, news) {
        // A new key, version or data directory: read again, unless only state changed.
        if (certificatesChanges(olds, news).every((c) => STATE_ONLY.includes(c))) return { outs: { ...olds, ...news } };
        return { outs: { ...news, ...(await check(news)) } };
    },
};
