/**
 * The K3sCertificates dynamic provider and its pure parts; no run-time import of the Pulumi SDK (see
 * ./runner.ts).
 *
 * `K3sCertificates`: when a node's k3s certificates expire, as k3s itself reports it (`k3s certificate
 * check --output json`: every client and server certificate of the node, `ExpiryTime` each). Read when
 * created and on every `pulumi refresh`, so the stack output shows the expiry the host has now: k3s renews
 * certificates at start when they are within 120 days of expiry, and `k3s certificate rotate` replaces them.
 *
 * With a rotation window (`k3s.certificates.rotateDaysBefore`), the diff asks for an update once the
 * recorded expiry is inside it, and the update rotates them as k3s documents it (stop k3s, `k3s certificate
 * rotate`, start k3s), the node drained before and uncordoned once Ready again. The Platform chains these
 * resources in rollout order, so nodes rotate one at a time, servers first.
 */
import type * as pulumi from "@pulumi/pulumi";
import { applyServiceScript } from "./host-service-provider";
import { STATE_ONLY } from "./host-file-provider";
import { targetChanges, targetLabel, type TransportTarget } from "./runner";
import { renderScript } from "../render/shell";
import { runScript } from "./transport";

const DAY_MS = 86_400_000;

/** How a node's certificates are rotated; absent: never (and in state written before rotation existed). */
export interface RotationPlan {
    /** Rotate when the recorded expiry is less than this many days away; 0: never. */
    readonly daysBefore: number;
    /** The k3s unit on the node (`k3s.service` or `k3s-agent.service`). */
    readonly unit: string;
    /** How long k3s may take to start again (`k3s.readyTimeoutSeconds`). */
    readonly startTimeoutSeconds: number;
    /** Run where `k3s kubectl` answers, before the stop: drains the node (or says why not). */
    readonly drainScript: string;
    /** Run there after the start: waits for the node Ready at its version (and /readyz), then uncordons it. */
    readonly readyScript: string;
}

export interface K3sCertificatesInputs {
    readonly target: TransportTarget;
    /** k3s's data directory (`k3s.dataDir`). */
    readonly dataDir: string;
    /** Where `k3s kubectl` answers for this node (itself for a server, the first server for an agent). */
    readonly kubectlTarget?: TransportTarget;
    readonly rotation?: RotationPlan;
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

/** k3s's documented rotation, minus the start: stop k3s, then `k3s certificate rotate` (the next start makes new ones). */
export function certificateRotateScript(unit: string, dataDir: string): string {
    return renderScript(
        `systemctl stop -- "$UNIT"
k3s certificate rotate --data-dir "$K3S_DATA_DIR"
`,
        { UNIT: unit, K3S_DATA_DIR: dataDir },
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

/** Whether certificates expiring at `expiresAt` are due for rotation at `now` (never when unknown or the window is 0). */
export function rotationDue(expiresAt: string, daysBefore: number, now: number): boolean {
    const t = Date.parse(expiresAt);
    return daysBefore > 0 && Number.isFinite(t) && t - now < daysBefore * DAY_MS;
}

/**
 * What changed between the recorded inputs and the new ones. The rotation plan and the kubectl target are
 * not compared: they say how a rotation happens, not what the node has, and a rotation uses the new ones.
 */
export function certificatesChanges(olds: K3sCertificatesInputs, news: K3sCertificatesInputs): string[] {
    const changes: string[] = [];
    if (olds.dataDir !== news.dataDir) changes.push("dataDir");
    if (olds.providerVersion !== news.providerVersion) changes.push("providerVersion");
    changes.push(...targetChanges(olds.target, news.target));
    return changes;
}

const check = async (i: K3sCertificatesInputs) =>
    parseCertificateCheck(await runScript(i.target, certificateCheckScript(i.dataDir), "reading k3s's certificates"));

/** Rotates the node's certificates, drained and back Ready; returns what k3s reports afterwards. */
async function rotate(i: K3sCertificatesInputs, plan: RotationPlan, was: string): Promise<{ expiresAt: string; count: number }> {
    const where = targetLabel(i.target);
    const say = (line: string) => process.stderr.write(`[${where}] ${line}\n`);
    const stream = (chunk: string) => process.stderr.write(chunk.replace(/^(?=.)/gm, `[${where}] `));
    const kubectl = i.kubectlTarget ?? i.target;
    say(`k3s certificates expire at ${was}, within ${plan.daysBefore} days (k3s.certificates.rotateDaysBefore): rotating them`);
    await runScript(kubectl, plan.drainScript, "draining the node before its certificate rotation", stream);
    await runScript(i.target, certificateRotateScript(plan.unit, i.dataDir), "k3s certificate rotate", stream);
    await runScript(
        i.target,
        applyServiceScript({ unit: plan.unit, enabled: true, active: true, startTimeoutSeconds: plan.startTimeoutSeconds }, false),
        `starting ${plan.unit} on new certificates`,
        stream,
    );
    await runScript(kubectl, plan.readyScript, "waiting for the node after its certificate rotation", stream);
    const after = await check(i);
    if (rotationDue(after.expiresAt, plan.daysBefore, Date.now()))
        throw new Error(
            `${where}: k3s certificate rotate did not renew the certificates: they still expire at ${after.expiresAt}, within ${plan.daysBefore} days (k3s.certificates.rotateDaysBefore). The node runs again; see k3s's log (journalctl -u ${plan.unit}).`,
        );
    say(`k3s certificates rotated: they now expire at ${after.expiresAt}`);
    return after;
}

export const k3sCertificatesProvider: pulumi.dynamic.ResourceProvider<K3sCertificatesInputs, K3sCertificatesState> = {
    async diff(_id, olds, news) {
        const changes = certificatesChanges(olds, news);
        if (news.rotation !== undefined && rotationDue(olds.expiresAt, news.rotation.daysBefore, Date.now()))
            return { changes: true, detailedDiff: { expiresAt: { kind: "update", inputDiff: false } } };
        return { changes: changes.length > 0 };
    },
    async create(inputs) {
        return { id: `${targetLabel(inputs.target)}:k3s-certificates`, outs: { ...inputs, ...(await check(inputs)) } };
    },
    async read(id, props) {
        if (props === undefined) throw new Error(`K3sCertificates ${id}: cannot read without state`);
        return { id, props: { ...props, ...(await check(props)) } };
    },
    async update(_id, olds, news) {
        const plan = news.rotation;
        if (plan !== undefined && rotationDue(olds.expiresAt, plan.daysBefore, Date.now())) {
            // Asked again first: k3s may have renewed them at a restart since the last read.
            const live = await check(news);
            if (!rotationDue(live.expiresAt, plan.daysBefore, Date.now())) return { outs: { ...news, ...live } };
            return { outs: { ...news, ...(await rotate(news, plan, live.expiresAt)) } };
        }
        // A new key, version or data directory: read again, unless only state changed.
        if (certificatesChanges(olds, news).every((c) => STATE_ONLY.includes(c))) return { outs: { ...olds, ...news } };
        return { outs: { ...news, ...(await check(news)) } };
    },
};
