/**
 * The build result against a fixture Kubernetes API (real HTTPS, real client-certificate auth): the
 * digest comes from the build's own metadata, progress streams while the Job runs, a failed build
 * fails with the tail of its log, and a refresh notices a deleted Job.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { awaitBuild, buildResultProvider, type BuildResultOutputs } from "../../components/builds/build-result-provider";
import { kubeAccess } from "../../components/builds/kube-client";
import { type KubeApi, makePki, type Pki, startKubeApi } from "../fixtures/kube-api";

const DIGEST = `sha256:${"7e".repeat(32)}`;
const METADATA = JSON.stringify({
    "containerimage.config.digest": `sha256:${"c0".repeat(32)}`,
    "containerimage.descriptor": { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: DIGEST, size: 481 },
    "containerimage.digest": DIGEST,
    "image.name": "registry.dev:5000/hello:1",
});

let pki: Pki;
let api: KubeApi;
before(async () => {
    pki = makePki();
    api = await startKubeApi(pki);
});
after(async () => api.close());

const running = (name: string, log: string) => ({ name, creationTimestamp: "2026-11-22T07:00:00Z", state: { running: {} }, log });

describe("kubeconfig access", () => {
    it("reads k3s's inline client certificate, CA and server", () => {
        const a = kubeAccess(api.kubeconfig());
        assert.equal(a.server, api.url);
        assert.equal(a.ca, pki.ca);
        assert.equal(a.cert, pki.clientCert);
    });
    it("refuses exec users and file references with a clear message", () => {
        assert.throws(
            () => kubeAccess(api.kubeconfig({ exec: "aws" })),
            /authenticates with exec or auth-provider, which build results cannot use/,
        );
        assert.throws(
            () => kubeAccess(api.kubeconfig({ "client-certificate": "/home/me/.kube/cert.pem" })),
            /refers to a file \(client-certificate\); embed the data instead/,
        );
    });
});

describe("awaitBuild", () => {
    it("streams the log while the Job runs, then returns the digest from the metadata in the termination message", async () => {
        const job = {
            conditions: [] as { type: string; status: string }[],
            pods: [running("build-hello-1-abcde", "#1 [internal] load build definition\n#2 DONE 0.1s\n#3 pushing layers")],
        };
        api.jobs.set("buildkit/build-hello-1", job);
        const lines: string[] = [];
        setTimeout(() => {
            job.pods[0].state = { terminated: { exitCode: 0, reason: "Completed", message: METADATA } } as never;
            job.conditions.push({ type: "Complete", status: "True" });
        }, 300);
        const r = await awaitBuild(kubeAccess(api.kubeconfig()), "buildkit", "build-hello-1", {
            timeoutMs: 10_000,
            pollMs: 50,
            log: (l) => lines.push(l),
        });
        assert.deepEqual(r, { digest: DIGEST, ref: `registry.dev:5000/hello@${DIGEST}`, names: ["registry.dev:5000/hello:1"] });
        assert.ok(lines.includes("[build-hello-1] #1 [internal] load build definition"), lines.join("\n"));
        assert.ok(lines.includes("[build-hello-1] #3 pushing layers"));
    });
    it("a failed build fails with the Job's reason and the log tail Kubernetes put in the termination message", async () => {
        const tail =
            "#5 [2/2] RUN make\n#5 0.2 make: *** No rule to make target 'all'.  Stop.\n#5 ERROR: process \"/bin/sh -c make\" did not complete successfully: exit code: 2";
        api.jobs.set("buildkit/build-bad-1", {
            conditions: [
                { type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit" },
            ],
            pods: [
                {
                    name: "build-bad-1-old",
                    creationTimestamp: "2026-11-22T07:00:00Z",
                    state: { terminated: { exitCode: 1, message: "old attempt" } },
                    log: "",
                },
                {
                    name: "build-bad-1-new",
                    creationTimestamp: "2026-11-22T07:01:00Z",
                    state: { terminated: { exitCode: 1, message: tail } },
                    log: "",
                },
            ],
        });
        await assert.rejects(
            awaitBuild(kubeAccess(api.kubeconfig()), "buildkit", "build-bad-1", { timeoutMs: 5000, pollMs: 20 }),
            (e: Error) => {
                assert.equal(
                    e.message,
                    `build Job buildkit/build-bad-1 failed (BackoffLimitExceeded: Job has reached the specified backoff limit).\nLast lines of the build log (pod build-bad-1-new):\n${tail}`,
                );
                return true;
            },
        );
    });
    it("without a termination message, the tail comes from the log API", async () => {
        api.jobs.set("buildkit/build-oom-1", {
            conditions: [{ type: "Failed", status: "True", reason: "DeadlineExceeded" }],
            pods: [
                {
                    name: "build-oom-1-x",
                    creationTimestamp: "2026-11-22T07:00:00Z",
                    state: { terminated: { exitCode: 137 } },
                    log: Array.from({ length: 80 }, (_, i) => `line ${i}`).join("\n"),
                },
            ],
        });
        await assert.rejects(
            awaitBuild(kubeAccess(api.kubeconfig()), "buildkit", "build-oom-1", { timeoutMs: 5000, pollMs: 20 }),
            (e: Error) => {
                assert.match(e.message, /failed \(DeadlineExceeded\)/);
                assert.ok(e.message.endsWith("line 79") && e.message.includes("line 30\n") && !e.message.includes("line 29\n"), e.message);
                return true;
            },
        );
    });
    it("a completed Job without metadata is an error, not an empty digest", async () => {
        api.jobs.set("buildkit/build-nometa-1", {
            conditions: [{ type: "Complete", status: "True" }],
            pods: [{ name: "p", creationTimestamp: "2026-11-22T07:00:00Z", state: { terminated: { exitCode: 0, message: "" } }, log: "" }],
        });
        await assert.rejects(
            awaitBuild(kubeAccess(api.kubeconfig()), "buildkit", "build-nometa-1", { timeoutMs: 5000, pollMs: 20 }),
            /completed but left no metadata/,
        );
    });
    it("a Job that outlives the timeout fails the wait with the log so far", async () => {
        api.jobs.set("buildkit/build-slow-1", { conditions: [], pods: [running("build-slow-1-x", "#1 still going")] });
        await assert.rejects(
            awaitBuild(kubeAccess(api.kubeconfig()), "buildkit", "build-slow-1", { timeoutMs: 200, pollMs: 50 }),
            /did not finish within 0s.\nLast lines of the build log:\n#1 still going/,
        );
    });
    it("a client certificate from another CA is refused by the API server", async () => {
        const stranger = api.kubeconfig({
            "client-certificate-data": Buffer.from(pki.strangerCert).toString("base64"),
            "client-key-data": Buffer.from(pki.strangerKey).toString("base64"),
        });
        await assert.rejects(
            awaitBuild(kubeAccess(stranger), "buildkit", "build-hello-1", { timeoutMs: 1000, pollMs: 20 }),
            /cannot reach https:\/\/127\.0\.0\.1:\d+/,
        );
    });
});

describe("BuildResult provider", () => {
    it("create waits and outputs the digest; read sees a deleted Job; diff then rebuilds", async () => {
        api.jobs.set("ci/build-app-2", {
            conditions: [{ type: "Complete", status: "True" }],
            pods: [
                {
                    name: "p2",
                    creationTimestamp: "2026-11-22T07:00:00Z",
                    state: { terminated: { exitCode: 0, message: METADATA } },
                    log: "",
                },
            ],
        });
        const inputs = {
            kubeconfig: api.kubeconfig(),
            namespace: "ci",
            jobName: "build-app-2",
            tags: ["r/app:2"],
            timeoutSeconds: 60,
            providerVersion: "1",
        };
        const created = await buildResultProvider.create?.(inputs);
        assert.equal(created?.id, "ci/build-app-2");
        const outs = created?.outs as BuildResultOutputs;
        assert.equal(outs.digest, DIGEST);
        assert.equal(outs.present, true);
        assert.deepEqual((await buildResultProvider.read?.("ci/build-app-2", outs))?.props, outs);
        assert.deepEqual(await buildResultProvider.diff?.("ci/build-app-2", outs, inputs), {
            changes: false,
            replaces: [],
            deleteBeforeReplace: false,
        });
        api.jobs.delete("ci/build-app-2");
        const refreshed = (await buildResultProvider.read?.("ci/build-app-2", outs))?.props as BuildResultOutputs;
        assert.equal(refreshed.present, false);
        assert.deepEqual(await buildResultProvider.diff?.("ci/build-app-2", refreshed, inputs), {
            changes: true,
            replaces: ["jobName"],
            deleteBeforeReplace: false,
        });
        assert.deepEqual((await buildResultProvider.diff?.("ci/build-app-2", outs, { ...inputs, jobName: "build-app-3" }))?.replaces, [
            "jobName",
        ]);
    });
});
