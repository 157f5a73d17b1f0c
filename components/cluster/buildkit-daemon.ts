/**
 * `BuildkitDaemon` (`k3s-buildkit:cluster:BuildkitDaemon`): buildkitd inside the cluster (seed 002),
 * made safe to reach: a StatefulSet `buildkitd` (privileged, or rootless) listening on its unix socket
 * and on tcp 1234 with mutual TLS, a ClusterIP Service on 1234, a headless Service for stable pod names,
 * buildkitd.toml in a ConfigMap (the hosts' renderer; a change rolls the pods), the server and client
 * certificates (issued by the program: ./mutual-tls.ts) in Secrets, the registry credentials as a dockerconfigjson Secret for build Jobs, and
 * the cache usage report (a CronJob running `buildctl du`, read by `BuildkitCacheReport`).
 * Every Kubernetes child gets the provider passed in explicitly.
 */
import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedConfig } from "../config";
import type { CacheUsage } from "../host/cache-usage-provider";
import { CACHE_REPORT_NAME, cacheReportCronJobSpec, cacheReportLabels, reportedDaemons } from "./cache-report";
import { BuildkitCacheReport } from "./cache-report-resource";
import { admittingLabels } from "./cluster-reads";
import { BuildkitMutualTls } from "./mutual-tls-resource";
import { podSecurityLabels, podSecurityLevel, type PodSecurityLevel } from "./pod-security";
import { DAEMON_NAME, DAEMON_PORT, dockerConfigJson } from "../builds/daemon";
import { configMapData, daemonLabels, headlessServiceSpec, podDisruptionBudgetSpec, serviceSpec, statefulSetSpec, tlsPlan } from "./specs";

export interface BuildkitDaemonArgs {
    /** Kubernetes provider for the target cluster. */
    readonly provider: k8s.Provider;
    readonly cluster: ResolvedConfig["cluster"];
    readonly buildkit: ResolvedConfig["buildkit"];
    readonly registries: ResolvedConfig["registries"];
    /** Secret. */
    readonly registryPasswords: pulumi.Input<Record<string, string>>;
    /** Where hostPath state lives (under the k3s data dir). */
    readonly hostStateDir: string;
    /**
     * A cluster brought along (secret kubeconfig): its namespace may exist already; one whose Pod Security
     * level would refuse the daemon's pods fails the preview, naming the label. Unset for clusters this
     * program installed (their namespace is its own).
     */
    readonly existingCluster?: pulumi.Input<string>;
    /** Proxy variables for buildkitd (stack proxy). @default {} */
    readonly proxyEnv?: Readonly<Record<string, string>>;
    /** The cluster's kubeconfig (secret): the cache report is read with it. */
    readonly kubeconfig: pulumi.Input<string>;
}

/** The in-cluster daemons' cache usage, as of the newest report. */
export interface DaemonCacheUsage {
    /** When the report ran (RFC 3339); empty before its first run. */
    readonly reportedAt: string;
    /** Per daemon pod (`buildkitd-0` …). */
    readonly daemons: Record<string, CacheUsage>;
}

/** PEM bundle a client needs for `buildctl --addr tcp://…` (secret). */
export interface ClientTls {
    readonly ca: string;
    readonly cert: string;
    readonly key: string;
}

export class BuildkitDaemon extends pulumi.ComponentResource {
    public readonly namespace: string;
    /** `kube-pod://buildkitd-0?namespace=…` for buildctl with a kubeconfig. */
    public readonly kubePodAddress: string;
    /** `tcp://buildkitd.<ns>.svc:1234`, for Jobs in the cluster (with {@link clientTls}). */
    public readonly serviceAddress: string;
    /** Client certificate bundle for mutual TLS (secret). */
    public readonly clientTls: pulumi.Output<ClientTls>;
    /** Name of the client TLS Secret (ca.pem, cert.pem, key.pem) for Jobs. */
    public readonly clientTlsSecretName: string;
    /** Name of the dockerconfigjson Secret for Jobs. */
    public readonly registryAuthSecretName: string;
    /** The buildkit image the daemon runs (it has buildctl; build Jobs use it too). */
    public readonly image: string;
    /** Number of replicas (`buildkitd-0` … `buildkitd-<n-1>`). */
    public readonly replicas: number;
    /** The StatefulSet: build Jobs wait for it. */
    public readonly statefulSet: k8s.apps.v1.StatefulSet;
    /** The Pod Security level the daemon's pods need, which its namespace's labels admit. */
    public readonly podSecurityLevel: PodSecurityLevel;
    /** Cache usage per daemon pod, read on every up and refresh; undefined when `cluster.cacheReport.enabled` is false. */
    public readonly cacheUsage?: pulumi.Output<DaemonCacheUsage>;

    constructor(name: string, args: BuildkitDaemonArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k3s-buildkit:cluster:BuildkitDaemon", name, {}, opts);
        const { cluster } = args;
        const ns = cluster.namespace;
        const k = { parent: this, provider: args.provider };
        this.namespace = ns;
        this.kubePodAddress = `kube-pod://${DAEMON_NAME}-0?namespace=${ns}`;
        this.serviceAddress = `tcp://${DAEMON_NAME}.${ns}.svc:${DAEMON_PORT}`;
        this.clientTlsSecretName = `${DAEMON_NAME}-client-tls`;
        this.registryAuthSecretName = `${DAEMON_NAME}-registry-auth`;
        this.replicas = cluster.replicas;

        const tag = cluster.mode === "rootless" ? `${args.buildkit.version}-rootless` : args.buildkit.version;
        this.image = `${cluster.imageRepository}:${tag}`;
        const data = configMapData(cluster, args.buildkit, args.registries);
        const configHash = createHash("sha256").update(JSON.stringify(data)).digest("hex");
        const specInputs = {
            mode: cluster.mode,
            namespace: ns,
            image: this.image,
            cluster,
            registries: args.registries,
            configMapName: `${DAEMON_NAME}-config`,
            tlsSecretName: `${DAEMON_NAME}-server-tls`,
            configHash,
            hostStatePath: args.hostStateDir,
            buildGraceSeconds: args.buildkit.buildGraceSeconds,
            proxyEnv: args.proxyEnv ?? {},
        };
        // Pod Security admission: the namespace admits the level the daemon's pods need (build Jobs, which
        // run there too, meet "restricted"); computed from the pod spec itself, so the two cannot drift.
        const template = statefulSetSpec({ ...specInputs, tlsHash: "" }).template as { spec: object };
        this.podSecurityLevel = podSecurityLevel(template.spec);
        const level = this.podSecurityLevel;
        const labels =
            args.existingCluster === undefined
                ? podSecurityLabels(level)
                : // (read with the secret kubeconfig; the labels themselves are not secret)
                  pulumi.unsecret(pulumi.output(args.existingCluster).apply((kubeconfig) => admittingLabels(kubeconfig, ns, level, this)));
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: ns, labels } }, k);
        const inNs = { ...k, dependsOn: [namespace] };
        const meta = (n: string) => ({ name: n, namespace: ns, labels: { ...daemonLabels } });

        // Mutual TLS, as tlsPlan() defines it: a CA, a server certificate, a client certificate, issued and
        // renewed by the program (./mutual-tls.ts). Stacks made with @pulumi/tls get new certificates once,
        // and the daemon rolls onto them (docs/runbooks.md).
        const mtls = new BuildkitMutualTls(`${name}-tls`, tlsPlan(ns), { parent: this });
        const caCert = mtls.certs.apply((c) => c.ca);
        const pair = (id: "server" | "client") => ({
            cert: mtls.certs.apply((c) => c[id]),
            key: pulumi.secret(mtls.keys.apply((k) => k[id])),
        });
        const server = pair("server");
        const client = pair("client");
        const tlsSecret = (id: string, secretName: string, p: { key: pulumi.Output<string>; cert: pulumi.Output<string> }) =>
            new k8s.core.v1.Secret(
                `${name}-${id}-tls`,
                {
                    metadata: meta(secretName),
                    type: "Opaque",
                    stringData: { "ca.pem": caCert, "cert.pem": p.cert, "key.pem": p.key },
                },
                inNs,
            );
        const serverSecret = tlsSecret("server", `${DAEMON_NAME}-server-tls`, server);
        tlsSecret("client", this.clientTlsSecretName, client);
        this.clientTls = pulumi.secret(pulumi.all([caCert, client.cert, client.key]).apply(([c, cert, key]) => ({ ca: c, cert, key })));

        new k8s.core.v1.Secret(
            `${name}-registry-auth`,
            {
                metadata: meta(this.registryAuthSecretName),
                type: "kubernetes.io/dockerconfigjson",
                stringData: {
                    ".dockerconfigjson": pulumi.secret(
                        pulumi.output(args.registryPasswords).apply((pw) => dockerConfigJson(args.registries, pw)),
                    ),
                },
            },
            inNs,
        );

        const configMap = new k8s.core.v1.ConfigMap(`${name}-config`, { metadata: meta(`${DAEMON_NAME}-config`), data }, inNs);

        new k8s.core.v1.Service(`${name}-headless`, { metadata: meta(`${DAEMON_NAME}-headless`), spec: headlessServiceSpec() }, inNs);
        new k8s.core.v1.Service(`${name}-service`, { metadata: meta(DAEMON_NAME), spec: serviceSpec() }, inNs);
        // A renewed server certificate (or CA) changes this hash, and so rolls the pods onto it in the same up.
        const tlsHash = pulumi
            .all([caCert, server.cert])
            .apply(([caPem, certPem]) => createHash("sha256").update(caPem).update(certPem).digest("hex"));
        this.statefulSet = new k8s.apps.v1.StatefulSet(
            `${name}-statefulset`,
            {
                metadata: meta(DAEMON_NAME),
                spec: statefulSetSpec({ ...specInputs, tlsHash }),
            },
            { ...k, dependsOn: [namespace, configMap, serverSecret] },
        );
        const budget = podDisruptionBudgetSpec(cluster.replicas);
        if (budget !== undefined) new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, { metadata: meta(DAEMON_NAME), spec: budget }, inNs);

        if (cluster.cacheReport.enabled) {
            const cronJob = new k8s.batch.v1.CronJob(
                `${name}-cache-report`,
                {
                    metadata: { name: CACHE_REPORT_NAME, namespace: ns, labels: { ...cacheReportLabels } },
                    spec: cacheReportCronJobSpec({
                        namespace: ns,
                        replicas: cluster.replicas,
                        image: this.image,
                        clientTlsSecretName: this.clientTlsSecretName,
                        schedule: cluster.cacheReport.schedule,
                    }),
                },
                inNs,
            );
            const report = new BuildkitCacheReport(
                `${name}-cache-usage`,
                { kubeconfig: args.kubeconfig, namespace: ns, daemons: Object.keys(reportedDaemons(ns, cluster.replicas)) },
                { parent: this, dependsOn: [cronJob] },
            );
            this.cacheUsage = pulumi.all([report.reportedAt, report.usage]).apply(([reportedAt, daemons]) => ({ reportedAt, daemons }));
        }
        this.registerOutputs({ kubePodAddress: this.kubePodAddress, serviceAddress: this.serviceAddress });
    }
}
