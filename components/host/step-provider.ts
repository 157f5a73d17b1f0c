/**
 * The HostStep and HostUpload dynamic providers and their pure parts; no run-time import of the Pulumi
 * SDK (see ./runner.ts).
 *
 * `HostStep`: one install step on a host: a script fed on stdin to the runner (create), and optionally
 * an undo script (delete). It replaces `@pulumi/command`: a rotated SSH key must not re-run every step
 * (the command provider re-runs `create` on any `connection` change), and the command plugin is one
 * more binary to fetch (air-gapped users, and machines where it cannot be had at all); and, running in
 * the one provider process, the steps of a host share one SSH connection (./transport.ts), where each
 * command-provider step dialled its own.
 *
 * Semantics, as the program relies on them:
 * - a change of `create` or of the host's identity (kind, address, port, user, bastion) re-runs create;
 * - a change of `triggers` replaces the step (delete, then create, when the resource asks for
 *   `deleteBeforeReplace`);
 * - a change of credentials only (key, passphrase), of `delete` or of the provider version updates
 *   state and runs nothing, so a later delete uses the new key.
 *
 * `HostUpload`: a local file copied to a path on a host (streamed, written atomically), replaced when
 * its checksum or destination changes, removed on delete.
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import type * as pulumi from "@pulumi/pulumi";
import { targetChanges, targetLabel, type TransportTarget } from "./runner";
import { readExportLines, renderScript, shellQuote } from "../render/shell";
import { versionSkewProblem } from "./version-skew";
import { execCommand, execScript, transportError } from "./transport";

export interface HostStepInputs {
    readonly target: TransportTarget;
    /** Script run on create (and on update when it or the host changes). */
    readonly create: string;
    /** Script run on delete; "" for a step that leaves nothing to undo. */
    readonly delete: string;
    /** Values whose change replaces the step. */
    readonly triggers: unknown[];
    /** The step's output is secret: its stderr is not streamed to the engine's log. */
    readonly quiet: boolean;
    readonly providerVersion: string;
    /**
     * A version the step installs that may only move forward one minor at a time: the script parameter
     * holding it (read from the scripts the step ran and will run), the config key it comes from, and the
     * override. A step that would skip a minor or go back is refused before it runs (at preview).
     */
    readonly versionGate?: { readonly param: string; readonly key: string; readonly override: string; readonly allowSkew: boolean };
    /**
     * false: the step asks the cluster from its host (kubectl on a server), so moving it to another server
     * that answers the same (a new first server) records the host without running the step again.
     * Absent (state written before it existed): true.
     */
    readonly rerunOnNewHost?: boolean;
}

/** Why a step may not move its gated version (see {@link HostStepInputs.versionGate}), or undefined. */
export function versionGateProblem(olds: Partial<HostStepInputs> | undefined, news: HostStepInputs): string | undefined {
    const g = news.versionGate;
    if (g === undefined || g.allowSkew || typeof olds?.create !== "string") return undefined;
    const installed = readExportLines(olds.create)[g.param];
    const requested = readExportLines(news.create)[g.param];
    if (installed === undefined || requested === undefined) return undefined;
    const problem = versionSkewProblem(installed, requested);
    return problem === undefined
        ? undefined
        : `${g.key}: ${problem} (on ${targetLabel(news.target)}; set ${g.override}: true to do it anyway)`;
}

export interface HostStepState extends HostStepInputs {
    /** What create printed on stdout (secret when the resource says so). */
    readonly stdout: string;
}

/** Which properties differ between the state and the desired inputs. Pure. */
export function stepChanges(olds: HostStepInputs, news: HostStepInputs): string[] {
    const changes: string[] = [];
    if (olds.create !== news.create) changes.push("create");
    changes.push(...targetChanges(olds.target, news.target));
    if (olds.delete !== news.delete) changes.push("delete");
    if (JSON.stringify(olds.triggers ?? []) !== JSON.stringify(news.triggers ?? [])) changes.push("triggers");
    if (olds.quiet !== news.quiet) changes.push("quiet");
    if (olds.providerVersion !== news.providerVersion) changes.push("providerVersion");
    return changes;
}

/** Whether an update with these changes runs the create script again. Pure. */
export function stepRerun(changes: readonly string[], rerunOnNewHost = true): boolean {
    return changes.includes("create") || (rerunOnNewHost && changes.includes("target"));
}

async function run(target: TransportTarget, script: string, what: string, quiet: boolean): Promise<string> {
    const where = targetLabel(target);
    const r = await execScript(
        target,
        script,
        quiet ? undefined : (chunk) => process.stderr.write(chunk.replace(/^(?=.)/gm, `[${where}] `)),
    );
    if (r.code === 0) return r.stdout;
    // A quiet step's stderr may hold a secret: only its exit code is reported.
    const tail = quiet ? "" : r.stderr.trim().split("\n").slice(-20).join("\n");
    throw transportError(`${where}: ${what} failed with exit code ${r.code}${tail === "" ? "" : `:\n${tail}`}`);
}

export const hostStepProvider: pulumi.dynamic.ResourceProvider<HostStepInputs, HostStepState> = {
    async check(olds, news) {
        const problem = versionGateProblem(olds, news);
        // (Named by the gate, not the script: the engine prints the property's value with the reason.)
        return { inputs: news, failures: problem === undefined ? [] : [{ property: "versionGate", reason: problem }] };
    },
    async diff(_id, olds, news) {
        const changes = stepChanges(olds, news);
        return { changes: changes.length > 0, replaces: changes.includes("triggers") ? ["triggers"] : [] };
    },
    async create(inputs) {
        const stdout = await run(inputs.target, inputs.create, "step", inputs.quiet);
        return { id: `${targetLabel(inputs.target)}:${randomUUID()}`, outs: { ...inputs, stdout } };
    },
    async update(_id, olds, news) {
        const stdout = stepRerun(stepChanges(olds, news), news.rerunOnNewHost !== false)
            ? await run(news.target, news.create, "step", news.quiet)
            : olds.stdout;
        return { outs: { ...news, stdout } };
    },
    async delete(_id, props) {
        if (props.delete !== "") await run(props.target, props.delete, "undo step", props.quiet);
    },
};

export interface HostUploadInputs {
    readonly target: TransportTarget;
    /** File on the machine that runs Pulumi. */
    readonly source: string;
    /** Its sha256 when the program ran (a change replaces the upload). */
    readonly sha256: string;
    /** Absolute destination path on the host. */
    readonly remotePath: string;
    readonly providerVersion: string;
}

/** sha256 of a file, streamed. */
export async function fileSha256(path: string): Promise<string> {
    const h = createHash("sha256");
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
    return h.digest("hex");
}

/**
 * The command line that receives a file on stdin and moves it into place atomically, after checking
 * its checksum. Only hex and a validated path reach it, each quoted.
 */
export function receiveFileScript(remotePath: string, sha256: string): string {
    return renderScript(
        `dir=$(dirname -- "$DEST")
mkdir -p -- "$dir"
tmp=$(mktemp -- "$dir/.k3s-buildkit.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
got=$(sha256sum -- "$tmp" | cut -d' ' -f1)
if [ "$got" != "$WANT" ]; then echo "k3s-buildkit: $DEST: received sha256 $got, expected $WANT" >&2; exit 1; fi
mv -f -- "$tmp" "$DEST"
trap - EXIT
`,
        { DEST: remotePath, WANT: sha256 },
    );
}

async function upload(i: HostUploadInputs): Promise<void> {
    const got = await fileSha256(i.source);
    if (got !== i.sha256)
        throw new Error(`${i.source} changed while the program ran (sha256 ${got}, expected ${i.sha256}): run pulumi up again`);
    // The receiving script is the command line (bash -c, no secret in it); the file is stdin.
    const line = `${i.target.kind === "ssh" && i.target.sudo ? "sudo -n " : ""}bash -c ${shellQuote(receiveFileScript(i.remotePath, i.sha256))}`;
    const r = await execCommand(i.target, line, () => createReadStream(i.source));
    if (r.code !== 0) throw transportError(`${targetLabel(i.target)}: uploading ${i.source} failed: ${r.stderr.trim().slice(-2000)}`);
}

export const hostUploadProvider: pulumi.dynamic.ResourceProvider<HostUploadInputs, HostUploadInputs> = {
    async check(_olds, news) {
        const failures =
            news.sha256 === ""
                ? [{ property: "source", reason: `${news.source}: no such file, or not readable, on the machine that runs Pulumi` }]
                : [];
        return { inputs: news, failures };
    },
    async diff(_id, olds, news) {
        const replaces = (["sha256", "remotePath", "source"] as const).filter((k) => olds[k] !== news[k]);
        const target = targetChanges(olds.target, news.target);
        if (target.includes("target")) replaces.push("target" as never);
        const other = target.length > 0 || olds.providerVersion !== news.providerVersion;
        return { changes: replaces.length > 0 || other, replaces, deleteBeforeReplace: true };
    },
    async create(inputs) {
        await upload(inputs);
        return { id: `${targetLabel(inputs.target)}:${inputs.remotePath}`, outs: inputs };
    },
    async update(_id, _olds, news) {
        return { outs: news };
    },
    async delete(_id, props) {
        await run(props.target, renderScript(`rm -f -- "$DEST"\n`, { DEST: props.remotePath }), `removing ${props.remotePath}`, false);
    },
};
