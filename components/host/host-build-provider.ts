/**
 * The HostBuild dynamic provider: a build on a host with the host's BuildKit (worker: k3s's
 * containerd), so the image is ready for k3s pods without a registry (seed 000). Create and update
 * send the context (a deterministic tar of what `.dockerignore` lets through) inside the script on
 * stdin, stream buildctl's progress to stderr (shown by `pulumi up`), and read the digest from the
 * build's metadata. Read checks that the image is still in containerd; delete removes its names.
 * Imports nothing from Pulumi at run time (see ../host/runner.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import { targetIdentity, targetLabel, type TransportTarget } from "./runner";
import { runScript } from "./transport";
import { imageRefFromMetadata, type BuildMetadata } from "../builds/buildctl";
import { contextHash, type ContextEntry, inlineEntries, tarEntries, walkContext } from "../builds/context";

/** Contexts larger than this are refused: use a git context for big trees. */
export const MAX_CONTEXT_BYTES = 256 * 1024 * 1024;

export interface HostBuildInputs {
    readonly target: TransportTarget;
    /** The build script with its parameters (receive_context and run_build are called after it). */
    readonly script: string;
    /** Scripts for read and delete, parameters included. */
    readonly checkScript: string;
    readonly removeScript: string;
    /** Local directory sent as the context (absolute), or inline files, or neither (git context). */
    readonly contextDir?: string;
    readonly inlineFiles?: Record<string, string>;
    /** {@link contextHash} of the context when the program ran; the build refuses a context that changed since. */
    readonly contextHash: string;
    /** The image names, as containerd stores them (informational: shown in previews). */
    readonly images: string[];
    readonly providerVersion: string;
}

export interface HostBuildOutputs extends HostBuildInputs {
    readonly digest: string;
    readonly ref: string;
    readonly names: string[];
    /** False when a refresh found the image gone from containerd: the next update builds again. */
    readonly present: boolean;
}

/** The entries the build sends: the directory after .dockerignore, the inline files, or nothing. */
export function contextEntries(i: Pick<HostBuildInputs, "contextDir" | "inlineFiles">): ContextEntry[] {
    if (i.contextDir !== undefined) return walkContext(i.contextDir);
    if (i.inlineFiles !== undefined) return inlineEntries(i.inlineFiles);
    return [];
}

/** The whole script: parameters and functions, then the context as a quoted here-document, then the build. */
export function buildScript(script: string, tar: Buffer): string {
    const b64 = tar.toString("base64").replace(/.{1,76}/g, "$&\n");
    return `${script}receive_context <<'K3S_BUILDKIT_CONTEXT'\n${b64}K3S_BUILDKIT_CONTEXT\nrun_build\n`;
}

/** The metadata JSON after the marker line the script prints. */
export function parseBuildOutput(stdout: string): { digest: string; ref: string; names: string[] } {
    const at = stdout.lastIndexOf("k3s-buildkit-metadata:\n");
    if (at < 0) throw new Error("the host build printed no metadata");
    const text = stdout.slice(at + "k3s-buildkit-metadata:\n".length);
    let metadata: BuildMetadata;
    try {
        metadata = JSON.parse(text) as BuildMetadata;
    } catch {
        throw new Error(`the host build's metadata is not JSON: ${text.slice(0, 200)}`);
    }
    return imageRefFromMetadata(metadata);
}

async function build(i: HostBuildInputs): Promise<{ digest: string; ref: string; names: string[] }> {
    const entries = contextEntries(i);
    const hash = contextHash(entries);
    if (hash !== i.contextHash) {
        throw new Error(
            `the build context ${i.contextDir ?? ""} changed after the program read it (hash ${i.contextHash.slice(0, 12)} → ${hash.slice(0, 12)}); run pulumi up again`,
        );
    }
    const tar = tarEntries(entries);
    if (tar.length > MAX_CONTEXT_BYTES) {
        throw new Error(
            `the build context is ${Math.round(tar.length / 2 ** 20)} MiB, over the ${MAX_CONTEXT_BYTES / 2 ** 20} MiB limit; add a .dockerignore or use a git context`,
        );
    }
    const where = targetLabel(i.target);
    const stdout = await runScript(i.target, buildScript(i.script, tar), "host image build", (chunk) =>
        process.stderr.write(chunk.replace(/^(?=.)/gm, `[${where}] `)),
    );
    return parseBuildOutput(stdout);
}

export const hostBuildProvider: pulumi.dynamic.ResourceProvider<HostBuildInputs, HostBuildOutputs> = {
    async check(_olds, news) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (!/^[0-9a-f]{64}$/.test(news.contextHash)) failures.push({ property: "contextHash", reason: "expected a sha256 in hex" });
        if (news.contextDir !== undefined && news.inlineFiles !== undefined)
            failures.push({ property: "contextDir", reason: "set contextDir or inlineFiles, not both" });
        return { inputs: news, failures };
    },
    async diff(_id, olds, news) {
        const keys = ["script", "contextHash", "providerVersion", "target"] as const;
        const changed = keys.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
        if (JSON.stringify(olds.inlineFiles) !== JSON.stringify(news.inlineFiles)) changed.push("contextHash");
        if (olds.present === false) changed.push("contextHash");
        return {
            changes: changed.length > 0 || olds.checkScript !== news.checkScript || olds.removeScript !== news.removeScript,
            replaces: [],
        };
    },
    async create(inputs) {
        const result = await build(inputs);
        return { id: `${targetLabel(inputs.target)}:${result.names[0]}`, outs: { ...inputs, ...result, present: true } };
    },
    async update(_id, olds, news) {
        const rebuild =
            olds.present === false ||
            olds.script !== news.script ||
            olds.contextHash !== news.contextHash ||
            JSON.stringify(targetIdentity(olds.target)) !== JSON.stringify(targetIdentity(news.target));
        if (!rebuild) return { outs: { ...olds, ...news } };
        return { outs: { ...news, ...(await build(news)), present: true } };
    },
    async read(id, props) {
        if (props === undefined) return { id };
        const out = await runScript(props.target, props.checkScript, "host image check");
        const present = /present=false/.test(out) ? false : /present=true/.test(out) ? true : props.present;
        return { id, props: { ...props, present } };
    },
    async delete(_id, props) {
        await runScript(props.target, props.removeScript, "host image removal");
    },
};
