/**
 * The in-cluster daemons' cache usage report, pure parts: a CronJob whose pod asks every replica
 * `buildctl du` over mutual TLS (as build Jobs reach it), sums the records as `buildctl du`'s summary sums
 * them (positive sizes; records not in use are reclaimable; the same rule as the host daemons' reading in
 * ../host/cache-usage-provider.ts) and writes one JSON object to its termination message, where the
 * `BuildkitCacheReport` resource reads it on every up and refresh. Sums, not records: a termination
 * message holds at most 4096 bytes, and a cache holds thousands of records.
 */
import type * as k8s from "@pulumi/kubernetes";
import { DAEMON_NAME, DAEMON_PORT } from "../builds/daemon";
import { JOB_PATHS, RESTRICTED_SECURITY, replicaHost } from "../builds/job-spec";
import type { CacheUsage } from "../host/cache-usage-provider";

/** The CronJob's name, and the label its pods carry (what the reader selects). */
export const CACHE_REPORT_NAME = `${DAEMON_NAME}-cache-report`;
export const cacheReportLabels = { "app.kubernetes.io/name": CACHE_REPORT_NAME, "app.kubernetes.io/managed-by": "k3s-buildkit" } as const;

/** buildctl du's records, one line each: size, then whether in use. */
const RECORD_LINES = '{{range .}}{{.Size}} {{.InUse}}{{"\\n"}}{{end}}';

/**
 * The report's shell program (POSIX sh and awk: the buildkit image's busybox). Its arguments are
 * `<pod>=<buildctl address>` pairs; a daemon that does not answer is reported unavailable, and the
 * report still covers the others.
 */
export const CACHE_REPORT_SCRIPT = `set -u
tls=${JOB_PATHS.tls}
report=""
for daemon in "$@"; do
  name=\${daemon%%=*}
  addr=\${daemon#*=}
  if out=$(buildctl --addr "$addr" --tlscacert "$tls/ca.pem" --tlscert "$tls/cert.pem" --tlskey "$tls/key.pem" \\
      du --format '${RECORD_LINES}'); then
    usage=$(printf '%s\\n' "$out" | awk 'NF == 2 { n++; if ($1 > 0) { t += $1; if ($2 != "true") r += $1 } }
      END { printf "{\\"available\\":true,\\"totalBytes\\":%.0f,\\"reclaimableBytes\\":%.0f,\\"records\\":%d}", t, r, n }')
  else
    usage='{"available":false,"totalBytes":0,"reclaimableBytes":0,"records":0}'
  fi
  report="$report\${report:+,}\\"$name\\":$usage"
done
printf '{%s}\\n' "$report" | tee /dev/termination-log
`;

/** The pods the report asks, by name: every replica, through the headless Service. */
export function reportedDaemons(namespace: string, replicas: number): Record<string, string> {
    return Object.fromEntries(
        Array.from({ length: replicas }, (_, i) => [`${DAEMON_NAME}-${i}`, `tcp://${replicaHost(namespace, i)}:${DAEMON_PORT}`]),
    );
}

export interface CacheReportSpecInputs {
    readonly namespace: string;
    readonly replicas: number;
    /** Image with buildctl (the daemon's). */
    readonly image: string;
    readonly clientTlsSecretName: string;
    /** Cron schedule (`cluster.cacheReport.schedule`). */
    readonly schedule: string;
}

/**
 * The CronJob spec: one report at a time, the last successful and failed Jobs kept (the reader needs the
 * newest pod), a pod that meets Pod Security "restricted" and holds only the client certificate.
 */
export function cacheReportCronJobSpec(i: CacheReportSpecInputs): k8s.types.input.batch.v1.CronJobSpec {
    const daemons = reportedDaemons(i.namespace, i.replicas);
    return {
        schedule: i.schedule,
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: 300,
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 1,
        jobTemplate: {
            metadata: { labels: { ...cacheReportLabels } },
            spec: {
                backoffLimit: 0,
                activeDeadlineSeconds: 300,
                template: {
                    metadata: { labels: { ...cacheReportLabels } },
                    spec: {
                        restartPolicy: "Never",
                        automountServiceAccountToken: false,
                        enableServiceLinks: false,
                        securityContext: RESTRICTED_SECURITY.pod,
                        containers: [
                            {
                                name: "buildctl",
                                image: i.image,
                                command: [
                                    "/bin/sh",
                                    "-c",
                                    CACHE_REPORT_SCRIPT,
                                    CACHE_REPORT_NAME,
                                    ...Object.entries(daemons).map(([pod, addr]) => `${pod}=${addr}`),
                                ],
                                env: [{ name: "HOME", value: "/tmp" }],
                                securityContext: RESTRICTED_SECURITY.container,
                                terminationMessagePath: "/dev/termination-log",
                                terminationMessagePolicy: "File",
                                volumeMounts: [
                                    { name: "client-tls", mountPath: JOB_PATHS.tls, readOnly: true },
                                    { name: "tmp", mountPath: "/tmp" },
                                ],
                            },
                        ],
                        volumes: [
                            { name: "client-tls", secret: { secretName: i.clientTlsSecretName, defaultMode: 0o440 } },
                            { name: "tmp", emptyDir: {} },
                        ],
                    },
                },
            },
        },
    };
}

const UNAVAILABLE: CacheUsage = { available: false, totalBytes: 0, reclaimableBytes: 0, records: 0 };

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * A report's termination message, for the daemons expected: each one reported as the report says, or
 * unavailable when the report lacks it (a replica added since) or the message is not a report.
 */
export function parseCacheReport(message: string | undefined, daemons: readonly string[]): Record<string, CacheUsage> {
    let parsed: unknown;
    try {
        parsed = JSON.parse(message ?? "");
    } catch {
        parsed = undefined;
    }
    const report = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
    const usage = (v: unknown): CacheUsage => {
        const u = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
        return u.available === true && isCount(u.totalBytes) && isCount(u.reclaimableBytes) && isCount(u.records)
            ? { available: true, totalBytes: u.totalBytes, reclaimableBytes: u.reclaimableBytes, records: u.records }
            : UNAVAILABLE;
    };
    return Object.fromEntries(daemons.map((d) => [d, Object.hasOwn(report, d) ? usage(report[d]) : UNAVAILABLE]));
}
