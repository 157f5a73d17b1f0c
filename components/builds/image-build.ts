/**
 * `ImageBuild` (`k3s-buildkit:build:ImageBuild`): one image build as a Kubernetes Job against the
 * in-cluster daemon, and its result. The Job is named by a hash of the build's definition, so
 * unchanged inputs mean the same Job (no build) and changed inputs a new one. The `BuildResult`
 * child waits for it, shows its log while `pulumi up` runs, fails the update with the log's tail,
 * and outputs the digest the build reported.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { providerVersion } from "../provider-version";
import type { ResolvedConfig } from "../config";
import { buildctlArgs } from "./buildctl";
import { buildResultProvider } from "./build-result-provider";
import {
    type BuildConfig,
    buildLabels,
    buildSecretIds,
    contextFiles,
    definitionHash,
    jobBuildctl,
    jobName,
    jobSpec,
    replicaIndex,
} from "./job-spec";
import { DynamicResource } from "../dynamic-resource";

export interface ImageBuildArgs {
    /** Kubernetes provider of the cluster the daemon runs in. */
    readonly provider: k8s.Provider;
    /** The same cluster's kubeconfig (secret): the build result reads the Job's status with it. */
    readonly kubeconfig: pulumi.Input<string>;
    readonly build: BuildConfig;
    readonly registries: ResolvedConfig["registries"];
    /** The daemon: namespace, replica count, image (it has buildctl), and its client Secrets. */
    readonly daemon: {
        readonly namespace: string;
        readonly replicas: number;
        readonly image: string;
        readonly clientTlsSecretName: string;
        readonly registryAuthSecretName: string;
    };
    /** Values of `buildSecrets` (secret); only the ids this build names are copied into its Secret. */
    readonly buildSecrets: pulumi.Input<Record<string, string>>;
    /** What must exist before the Job starts (the daemon). */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Waits for a build Job and exposes the image digest from its metadata (see ./build-result-provider.ts). */
export class BuildResult extends DynamicResource {
    declare public readonly digest: pulumi.Output<string>;
    declare public readonly ref: pulumi.Output<string>;
    declare public readonly names: pulumi.Output<string[]>;

    constructor(
        name: string,
        args: {
            kubeconfig: pulumi.Input<string>;
            namespace: string;
            jobName: pulumi.Input<string>;
            /** The build's tags (shown in previews; the names themselves come from the metadata). */
            tags: string[];
            timeoutSeconds: number;
        },
        opts?: pulumi.CustomResourceOptions,
    ) {
        super(
            buildResultProvider,
            name,
            {
                ...args,
                providerVersion: providerVersion(buildResultProvider),
                digest: undefined,
                ref: undefined,
                names: undefined,
                present: undefined,
            },
            { ...opts, additionalSecretOutputs: ["kubeconfig"], customTimeouts: { create: `${args.timeoutSeconds + 300}s` } },
            "k3s-buildkit",
            "BuildResult",
        );
    }
}

export class ImageBuild extends pulumi.ComponentResource {
    /** `build-<name>-<hash>`: changes if and only if the build's definition changes. */
    public readonly jobName: string;
    /** The buildctl command line the Job runs (argv). */
    public readonly buildctlArgv: string[];
    /** `sha256:…`, as the build reported it. */
    public readonly digest: pulumi.Output<string>;
    /** `<repository>@sha256:…` of the first tag: what a Deployment should run. */
    public readonly ref: pulumi.Output<string>;

    constructor(name: string, args: ImageBuildArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k3s-buildkit:build:ImageBuild", name, {}, opts);
        const b = args.build;
        const d = args.daemon;
        const k = { parent: this, provider: args.provider };
        this.jobName = jobName(b);
        this.buildctlArgv = buildctlArgs(jobBuildctl(b, args.registries, d.namespace, replicaIndex(definitionHash(b), d.replicas)));
        const labels = { ...buildLabels(b.name) };
        const deps: pulumi.Input<pulumi.Resource>[] = [...(args.dependsOn ?? [])];

        const files = contextFiles(b);
        const contextName = `${this.jobName}-context`;
        if (Object.keys(files.data).length > 0) {
            deps.push(
                new k8s.core.v1.ConfigMap(
                    `${name}-context`,
                    { metadata: { name: contextName, namespace: d.namespace, labels }, immutable: true, data: files.data },
                    k,
                ),
            );
        }
        const secretIds = buildSecretIds(b);
        const secretsName = `${this.jobName}-secrets`;
        if (secretIds.length > 0) {
            deps.push(
                new k8s.core.v1.Secret(
                    `${name}-secrets`,
                    {
                        metadata: { name: secretsName, namespace: d.namespace, labels },
                        type: "Opaque",
                        stringData: pulumi.secret(
                            pulumi.output(args.buildSecrets).apply((all) => Object.fromEntries(secretIds.map((id) => [id, all[id] ?? ""]))),
                        ),
                    },
                    k,
                ),
            );
        }
        const job = new k8s.batch.v1.Job(
            `${name}-job`,
            {
                metadata: {
                    name: this.jobName,
                    namespace: d.namespace,
                    labels,
                    // The build result waits for the Job itself, to stream its log and report failures with it.
                    annotations: { "pulumi.com/skipAwait": "true" },
                },
                spec: jobSpec({
                    build: b,
                    registries: args.registries,
                    namespace: d.namespace,
                    replicas: d.replicas,
                    image: d.image,
                    clientTlsSecretName: d.clientTlsSecretName,
                    registryAuthSecretName: d.registryAuthSecretName,
                    contextConfigMapName: contextName,
                    secretsSecretName: secretsName,
                }),
            },
            // The name carries the definition; what else is in the spec (replica address, deadline)
            // must not rebuild an image that is already built.
            { ...k, dependsOn: deps, ignoreChanges: ["spec"] },
        );
        const result = new BuildResult(
            `${name}-result`,
            {
                kubeconfig: args.kubeconfig,
                namespace: d.namespace,
                jobName: job.metadata.name,
                tags: [...b.tags],
                timeoutSeconds: b.timeoutMinutes * 60,
            },
            { parent: this, dependsOn: [job] },
        );
        this.digest = result.digest;
        this.ref = result.ref;
        this.registerOutputs({ jobName: this.jobName, digest: this.digest, ref: this.ref });
    }
}
