/** Stack config: the buildkitd daemon in the cluster. */
import { K8S_SUBDOMAIN, LABEL_KEY, LABEL_VALUE, QUANTITY } from "./fields";
import { arr, bool, int, json, map, obj, optional, str } from "./schema";

export const cluster = obj(
    {
        enabled: bool({ description: "Run a buildkitd daemon inside the cluster.", default: true }),
        namespace: str({
            description: "Namespace of the in-cluster daemon and build Jobs.",
            default: "buildkit",
            pattern: { regex: /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, expected: "a Kubernetes namespace name (DNS label)" },
        }),
        replicas: int({ description: "buildkitd replicas.", default: 1, min: 1, max: 32 }),
        mode: str({ description: "Security mode of the daemon.", enum: ["privileged", "rootless"] as const, default: "privileged" }),
        imageRepository: str({
            description: "Repository of the buildkit image (set a mirror here); the tag is the BuildKit version.",
            default: "docker.io/moby/buildkit",
            pattern: { regex: /^[a-z0-9.:/_-]+$/, expected: "an image repository like docker.io/moby/buildkit" },
        }),
        storageClass: optional(
            str({ description: "StorageClass for the state volume (default: a hostPath under the k3s data dir).", pattern: K8S_SUBDOMAIN }),
        ),
        stateSize: str({
            description: "Size of each replica's state volume when storageClass is set.",
            default: "50Gi",
            pattern: { regex: /^\d+(?:Mi|Gi|Ti)$/, expected: 'a Kubernetes quantity like "50Gi"' },
        }),
        resources: obj(
            {
                requests: map(str({ description: "Quantity.", pattern: QUANTITY }), {
                    description: "Resource requests (cpu, memory).",
                    default: {},
                    keyPattern: LABEL_KEY,
                }),
                limits: map(str({ description: "Quantity.", pattern: QUANTITY }), {
                    description: "Resource limits (cpu, memory).",
                    default: {},
                    keyPattern: LABEL_KEY,
                }),
            },
            { description: "Resources of the buildkitd container.", default: {} },
        ),
        nodeSelector: map(str({ description: "Label value.", nonEmpty: false, pattern: LABEL_VALUE }), {
            description: "Node labels the daemon's pods must match.",
            default: {},
            keyPattern: LABEL_KEY,
        }),
        tolerations: arr(
            obj(
                {
                    key: optional(str({ description: "Taint key.", pattern: LABEL_KEY })),
                    operator: str({ description: "Toleration operator.", enum: ["Equal", "Exists"] as const, default: "Equal" }),
                    value: optional(str({ description: "Taint value.", nonEmpty: false, pattern: LABEL_VALUE })),
                    effect: optional(str({ description: "Taint effect.", enum: ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const })),
                    tolerationSeconds: optional(int({ description: "For NoExecute: how long the pod stays.", min: 0 })),
                },
                { description: "A toleration." },
            ),
            { description: "Tolerations of the daemon's pods.", default: [] },
        ),
        affinity: optional(json({ description: "Kubernetes affinity of the daemon's pods, as in a pod spec." })),
        extraConfig: json({
            description:
                "Any buildkitd.toml keys for the in-cluster daemon, deep-merged over the rendered file (as buildkit.extraConfig); its listener ([grpc]), root and workers are managed.",
            default: {},
        }),
        cacheReport: obj(
            {
                enabled: bool({
                    description:
                        "Report the in-cluster daemons' cache usage: a CronJob runs `buildctl du` against every replica; `pulumi refresh` reads the newest report into the buildkitDaemon.cacheUsage output.",
                    default: true,
                }),
                schedule: str({
                    description: 'When the report runs, as a CronJob schedule ("*/30 * * * *", "@hourly").',
                    default: "*/30 * * * *",
                    pattern: {
                        regex: /^(?:@(?:yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*?/,-]+(?: [0-9A-Za-z*?/,-]+){4})$/,
                        expected: 'a cron schedule of five fields like "*/30 * * * *", or @hourly, @daily, @weekly',
                    },
                }),
            },
            { description: "The in-cluster daemons' cache usage report.", default: {} },
        ),
        apiTunnel: obj(
            {
                enabled: optional(
                    bool({
                        description:
                            "Reach the Kubernetes API through an SSH tunnel to the first server (through its bastion) instead of dialling https://<apiAddress>:6443. Default: on when hosts[0] has a bastion.",
                    }),
                ),
                localPort: optional(
                    int({
                        description:
                            "Local port of the tunnel on the machine running Pulumi (127.0.0.1). Default: a port from 20000–29999 fixed per stack name.",
                        min: 1024,
                        max: 65535,
                    }),
                ),
            },
            {
                description:
                    "How Pulumi reaches the API of a cluster it installed. The exported kubeconfig keeps the real address; only the program's own access goes through the tunnel.",
                default: {},
            },
        ),
    },
    { description: "The buildkitd daemon in the cluster.", default: {} },
);
