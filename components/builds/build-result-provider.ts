/**
 * The BuildResult dynamic provider: waits for a build Job, streams its log while it runs, and turns
 * the finished build's metadata (`buildctl --metadata-file`, copied to the pod's termination message)
 * into the image digest. A failed build fails the update with the tail of its log. Imports nothing
 * from Pulumi at run time (see ../host/runner.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import { imageRefFromMetadata, type BuildMetadata } from "./buildctl";
import { followLog, type KubeAccess, kubeAccess, kubeGet, kubeGetText } from "./kube-client";

export interface BuildResultInputs {
    /** Secret. */
    readonly kubeconfig: string;
    readonly namespace: string;
    readonly jobName: string;
    /** The build's tags (informational: shown in previews). */
    readonly tags: string[];
    readonly timeoutSeconds: number;
    readonly providerVersion: string;
}

export interface BuildResultOutputs extends BuildResultInputs {
    /** `sha256:…` from the build's metadata. */
    readonly digest: string;
    /** `<first tag's repository>@<digest>`. */
    readonly ref: string;
    /** Every name the image got. */
    readonly names: string[];
    /** False when a refresh found the Job gone: the next update builds again. */
    readonly present: boolean;
}

interface Condition {
    readonly type: string;
    readonly status: string;
    readonly reason?: string;
    readonly message?: string;
}
interface Job {
    readonly status?: { readonly conditions?: Condition[] };
}
interface Pod {
    readonly metadata: { readonly name: string; readonly creationTimestamp?: string };
    readonly status?: {
        readonly phase?: string;
        readonly containerStatuses?: {
            readonly state?: {
                readonly running?: object;
                readonly terminated?: { readonly exitCode: number; readonly reason?: string; readonly message?: string };
            };
        }[];
    };
}

export interface AwaitOptions {
    readonly timeoutMs: number;
    readonly pollMs?: number;
    /** Where progress lines go (the provider: stderr, which `pulumi up` shows). */
    readonly log?: (line: string) => void;
}

const jobPath = (ns: string, job: string) => `/apis/batch/v1/namespaces/${encodeURIComponent(ns)}/jobs/${encodeURIComponent(job)}`;
const podsPath = (ns: string, job: string) =>
    `/api/v1/namespaces/${encodeURIComponent(ns)}/pods?labelSelector=${encodeURIComponent(`job-name=${job}`)}`;
const logPath = (ns: string, pod: string, q: string) =>
    `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/log?${q}`;

const condition = (job: Job, type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === "True");
const terminated = (p: Pod) => p.status?.containerStatuses?.[0]?.state?.terminated;
const newestFirst = (pods: Pod[]) =>
    [...pods].sort((a, b) => (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? ""));

async function pods(a: KubeAccess, ns: string, job: string): Promise<Pod[]> {
    return (await kubeGet<{ items: Pod[] }>(a, podsPath(ns, job)))?.items ?? [];
}

/** The last lines of a pod's log: its termination message (FallbackToLogsOnError), else the log API. */
async function logTail(a: KubeAccess, ns: string, pod: Pod | undefined): Promise<string> {
    if (pod === undefined) return "(no pod was started)";
    const message = terminated(pod)?.message?.trim();
    if (message !== undefined && message !== "") return message;
    const log = await kubeGetText(a, logPath(ns, pod.metadata.name, "tailLines=50")).catch((e: Error) => `(log unavailable: ${e.message})`);
    return (log ?? "(no log)").trim();
}

/**
 * Waits until Job `job` completes and returns the image from its metadata; throws with the build
 * log's tail when it fails or runs past `timeoutMs`.
 */
export async function awaitBuild(
    a: KubeAccess,
    ns: string,
    job: string,
    o: AwaitOptions,
): Promise<{ digest: string; ref: string; names: string[] }> {
    const deadline = Date.now() + o.timeoutMs;
    const followed = new Set<string>();
    const log = o.log ?? (() => undefined);
    for (;;) {
        const j = await kubeGet<Job>(a, jobPath(ns, job));
        if (j === undefined) throw new Error(`build Job ${ns}/${job} does not exist`);
        if (condition(j, "Complete") !== undefined) {
            const done = newestFirst(await pods(a, ns, job)).find((p) => terminated(p)?.exitCode === 0);
            const message = done === undefined ? undefined : terminated(done)?.message;
            if (message === undefined || message.trim() === "") {
                throw new Error(`build Job ${ns}/${job} completed but left no metadata in its pod's termination message`);
            }
            let metadata: BuildMetadata;
            try {
                metadata = JSON.parse(message) as BuildMetadata;
            } catch {
                throw new Error(`build Job ${ns}/${job}: its metadata is not JSON: ${message.slice(0, 200)}`);
            }
            return imageRefFromMetadata(metadata);
        }
        const failed = condition(j, "Failed");
        if (failed !== undefined) {
            const last = newestFirst(await pods(a, ns, job))[0];
            const tail = await logTail(a, ns, last);
            throw new Error(
                `build Job ${ns}/${job} failed (${failed.reason ?? "Failed"}${failed.message === undefined ? "" : `: ${failed.message}`}).\n` +
                    `Last lines of the build log${last === undefined ? "" : ` (pod ${last.metadata.name})`}:\n${tail}`,
            );
        }
        if (Date.now() > deadline) {
            const last = newestFirst(await pods(a, ns, job))[0];
            throw new Error(
                `build Job ${ns}/${job} did not finish within ${Math.round(o.timeoutMs / 1000)}s.\nLast lines of the build log:\n${await logTail(a, ns, last)}`,
            );
        }
        for (const p of await pods(a, ns, job)) {
            if (followed.has(p.metadata.name) || p.status?.containerStatuses?.[0]?.state?.running === undefined) continue;
            followed.add(p.metadata.name);
            log(`[${job}] following ${p.metadata.name}`);
            void followLog(
                a,
                logPath(ns, p.metadata.name, "follow=true"),
                (line) => log(`[${job}] ${line}`),
                Math.max(deadline - Date.now(), 1000),
            );
        }
        await new Promise((r) => setTimeout(r, o.pollMs ?? 2000));
    }
}

function checkInputs(i: BuildResultInputs): pulumi.dynamic.CheckFailure[] {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(i.jobName))
        failures.push({ property: "jobName", reason: `expected a Kubernetes name; got ${JSON.stringify(i.jobName)}` });
    if (!(i.timeoutSeconds > 0)) failures.push({ property: "timeoutSeconds", reason: "expected a positive number of seconds" });
    return failures;
}

export const buildResultProvider: pulumi.dynamic.ResourceProvider<BuildResultInputs, BuildResultOutputs> = {
    async check(_olds, news) {
        return { inputs: news, failures: checkInputs(news) };
    },
    async diff(_id, olds, news) {
        const replaces = (["jobName", "namespace"] as const).filter((k) => olds[k] !== news[k]);
        if (olds.present === false) replaces.push("jobName");
        const changed = replaces.length > 0 || olds.providerVersion !== news.providerVersion || olds.kubeconfig !== news.kubeconfig;
        return { changes: changed, replaces, deleteBeforeReplace: false };
    },
    async create(inputs) {
        const access = kubeAccess(inputs.kubeconfig);
        const result = await awaitBuild(access, inputs.namespace, inputs.jobName, {
            timeoutMs: inputs.timeoutSeconds * 1000,
            log: (line) => process.stderr.write(`${line}\n`),
        });
        return { id: `${inputs.namespace}/${inputs.jobName}`, outs: { ...inputs, ...result, present: true } };
    },
    async update(_id, olds, news) {
        // Only the provider version, the kubeconfig or the tags' display changed: the build is the same one.
        return { outs: { ...olds, ...news } };
    },
    async read(id, props) {
        if (props === undefined) return { id };
        const job = await kubeGet<Job>(kubeAccess(props.kubeconfig), jobPath(props.namespace, props.jobName));
        return { id, props: { ...props, present: job !== undefined } };
    },
    async delete() {
        // Nothing to remove: the Job belongs to its Kubernetes resource.
    },
};
