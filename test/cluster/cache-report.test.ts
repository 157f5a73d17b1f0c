/**
 * The in-cluster daemons' cache usage report: a CronJob whose pod sums `buildctl du` per replica into its
 * termination message, and the `BuildkitCacheReport` reader. The script runs here under busybox's sh and
 * awk (the buildkit image is Alpine's busybox) with a stand-in buildctl that checks its argv; the reader
 * runs against a real kube-apiserver in test/kube/api-server.test.ts. The same script against real
 * BuildKit: test/real-host/buildkit.scenario.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseCacheUsage } from "../../components/host/cache-usage-provider";
import {
    CACHE_REPORT_NAME,
    CACHE_REPORT_SCRIPT,
    cacheReportCronJobSpec,
    cacheReportLabels,
    parseCacheReport,
    reportedDaemons,
} from "../../components/cluster/cache-report";
import { cacheReportProvider, newestReport, type CacheReportInputs } from "../../components/cluster/cache-report-provider";
import { podSecurityLevel } from "../../components/cluster/pod-security";

const dir = mkdtempSync(join(tmpdir(), "k3s-cache-report-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const spec = () =>
    cacheReportCronJobSpec({
        namespace: "buildkit",
        replicas: 2,
        image: "docker.io/moby/buildkit:v0.33.1",
        clientTlsSecretName: "buildkitd-client-tls",
        schedule: "*/30 * * * *",
    });
type PodSpec = { containers: { command: string[]; terminationMessagePath: string }[] };
const podSpec = () => (spec().jobTemplate as { spec: { template: { spec: PodSpec } } }).spec.template.spec;

/** buildctl du records as `{{json .}}` prints them (client.UsageInfo), for one daemon. */
const RECORDS = [
    { id: "a", inUse: false, size: 1000, shared: false },
    { id: "b", inUse: true, size: 250 },
    { id: "c", inUse: false, size: -1 },
    { id: "d", inUse: false, size: 0 },
    { id: "e", inUse: false, size: 9_000_000_000_123 },
];

/**
 * Runs the container's command under busybox sh, with busybox's awk, printf and tee first on PATH, and a
 * buildctl that answers replica 0 with RECORDS (rendered through the report's own --format template by a
 * tiny interpreter of its one `range` form) and refuses replica 1. Returns the termination message.
 */
function runReport(): { status: number | null; stderr: string; message: string } {
    const bin = mkdtempSync(join(dir, "bin-"));
    for (const tool of ["awk", "printf", "tee"]) symlinkSync("/usr/bin/busybox", join(bin, tool));
    const log = join(dir, "termination-log");
    writeFileSync(log, "");
    writeFileSync(join(dir, "records.json"), JSON.stringify(RECORDS));
    writeFileSync(
        join(bin, "buildctl"),
        `#!/bin/sh
printf '%s\\n' "$*" >> ${dir}/argv
case "$*" in
  "--addr tcp://buildkitd-0.buildkitd-headless.buildkit.svc:1234 --tlscacert /run/buildkit-client/ca.pem --tlscert /run/buildkit-client/cert.pem --tlskey /run/buildkit-client/key.pem du --format {{range .}}{{.Size}} {{.InUse}}{{\\"\\\\n\\"}}{{end}}")
    node -e 'for (const r of JSON.parse(require("fs").readFileSync("${dir}/records.json","utf8"))) console.log(r.size + " " + (r.inUse === true))' ;;
  "--addr tcp://buildkitd-1."*) echo "connection refused" >&2; exit 1 ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`,
        { mode: 0o755 },
    );
    const [sh, c, script, ...args] = podSpec().containers[0].command;
    assert.deepEqual([sh, c], ["/bin/sh", "-c"]);
    const r = spawnSync("busybox", ["sh", "-c", script.replace("/dev/termination-log", log), ...args], {
        env: { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` },
        encoding: "utf8",
    });
    return { status: r.status, stderr: r.stderr, message: readFileSync(log, "utf8") };
}

describe("the in-cluster cache usage report", () => {
    it("busybox sh and awk sum each replica as the host reading sums `buildctl du` (one rule); a replica that does not answer is unavailable", () => {
        const r = runReport();
        assert.equal(r.status, 0, r.stderr);
        assert.equal(readFileSync(join(dir, "argv"), "utf8").trim().split("\n").length, 2, "one buildctl du per replica");
        const report = parseCacheReport(r.message, ["buildkitd-0", "buildkitd-1"]);
        assert.deepEqual(report["buildkitd-0"], parseCacheUsage(JSON.stringify(RECORDS)), "the same sums as the host daemons' reading");
        assert.deepEqual(report["buildkitd-0"], {
            available: true,
            totalBytes: 9_000_000_001_373,
            reclaimableBytes: 9_000_000_001_123,
            records: 5,
        });
        assert.deepEqual(report["buildkitd-1"], { available: false, totalBytes: 0, reclaimableBytes: 0, records: 0 });
        assert.ok(Buffer.byteLength(r.message) < 4096, "sums fit a termination message");
    });

    it("asks every replica through the headless Service, with the client certificate and nothing else mounted; the pod meets Pod Security restricted", () => {
        assert.deepEqual(reportedDaemons("buildkit", 2), {
            "buildkitd-0": "tcp://buildkitd-0.buildkitd-headless.buildkit.svc:1234",
            "buildkitd-1": "tcp://buildkitd-1.buildkitd-headless.buildkit.svc:1234",
        });
        const s = spec();
        assert.equal(s.schedule, "*/30 * * * *");
        assert.equal(s.concurrencyPolicy, "Forbid");
        assert.equal(s.successfulJobsHistoryLimit, 1, "the newest report's pod is kept for the reader");
        const pod = podSpec() as PodSpec & { volumes: { name: string }[] };
        assert.deepEqual(pod.containers[0].command.slice(2), [
            CACHE_REPORT_SCRIPT,
            CACHE_REPORT_NAME,
            "buildkitd-0=tcp://buildkitd-0.buildkitd-headless.buildkit.svc:1234",
            "buildkitd-1=tcp://buildkitd-1.buildkitd-headless.buildkit.svc:1234",
        ]);
        assert.deepEqual(
            pod.volumes.map((v) => v.name),
            ["client-tls", "tmp"],
        );
        assert.equal(podSecurityLevel(pod as never), "restricted");
        const labels = (s.jobTemplate as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata
            .labels;
        assert.deepEqual(labels, { ...cacheReportLabels }, "the labels the reader selects");
    });

    it("a message that is not a report, or lacks a replica (added since), reads as unavailable for it", () => {
        const down = { available: false, totalBytes: 0, reclaimableBytes: 0, records: 0 };
        assert.deepEqual(parseCacheReport(undefined, ["buildkitd-0"]), { "buildkitd-0": down });
        assert.deepEqual(parseCacheReport("Error: oops", ["buildkitd-0"]), { "buildkitd-0": down });
        assert.deepEqual(
            parseCacheReport('{"buildkitd-0":{"available":true,"totalBytes":-5,"reclaimableBytes":0,"records":1}}', ["buildkitd-0"]),
            { "buildkitd-0": down },
            "a negative size is not believed",
        );
        assert.deepEqual(
            parseCacheReport('{"buildkitd-0":{"available":true,"totalBytes":10,"reclaimableBytes":4,"records":2}}', [
                "buildkitd-0",
                "buildkitd-1",
            ]),
            { "buildkitd-0": { available: true, totalBytes: 10, reclaimableBytes: 4, records: 2 }, "buildkitd-1": down },
        );
        assert.deepEqual(parseCacheReport('{"__proto__":{"available":true}}', ["__proto__"]).__proto__, down);
    });

    it("the newest report is the latest finished pod that exited 0 with a message", () => {
        const pod = (exitCode: number, finishedAt: string, message?: string) => ({
            status: {
                containerStatuses: [{ state: { terminated: { exitCode, finishedAt, ...(message === undefined ? {} : { message }) } } }],
            },
        });
        assert.deepEqual(newestReport([pod(0, "2026-12-05T10:00:00Z", "old"), pod(0, "2026-12-05T10:30:00Z", "new")]), {
            message: "new",
            finishedAt: "2026-12-05T10:30:00Z",
        });
        assert.equal(newestReport([pod(1, "2026-12-05T11:00:00Z", "failed"), pod(0, "2026-12-05T11:30:00Z", "")]), undefined);
        assert.equal(newestReport([{ status: { containerStatuses: [{ state: {} }] } }]), undefined, "a running pod is no report");
    });

    it("diff: nothing changed is no update; new credentials or replicas read again; another namespace replaces", async () => {
        const base: CacheReportInputs = { kubeconfig: "k1", namespace: "buildkit", daemons: ["buildkitd-0"], providerVersion: "v1" };
        const diff = (news: Partial<CacheReportInputs>) =>
            cacheReportProvider.diff!("id", { ...base, reportedAt: "", usage: {} }, { ...base, ...news });
        assert.deepEqual(await diff({}), { changes: false });
        assert.deepEqual(await diff({ kubeconfig: "k2" }), { changes: true });
        assert.deepEqual(await diff({ daemons: ["buildkitd-0", "buildkitd-1"] }), { changes: true });
        assert.deepEqual(await diff({ namespace: "other" }), { changes: true, replaces: ["namespace"] });
    });
});
