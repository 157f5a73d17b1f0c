/** Stack config: k3s on every host. */
import { absolutePath, DEFAULT_VERSIONS, hostOrIp, HTTP_URL, SHA256, version } from "./fields";
import { arr, bool, int, json, map, obj, optional, str } from "./schema";

export const k3s = obj(
    {
        version: str({
            description: "k3s release to install.",
            default: DEFAULT_VERSIONS.k3s,
            pattern: version(/^v\d+\.\d+\.\d+\+k3s\d+$/, DEFAULT_VERSIONS.k3s),
        }),
        installScriptUrl: str({
            description: "URL of the k3s install script (a mirror of get.k3s.io).",
            default: "https://get.k3s.io",
            pattern: HTTP_URL,
        }),
        binaryBaseUrl: str({
            description:
                "Base URL of k3s release downloads; `<base>/<version dir>/k3s` and `sha256sum-<arch>.txt` are fetched from it (see binaryLayout).",
            default: "https://github.com/k3s-io/k3s/releases/download",
            pattern: HTTP_URL,
        }),
        binaryLayout: str({
            description:
                'How binaryBaseUrl lays out releases: "github" (`<base>/v1.35.6+k3s1/…`, GitHub and its mirrors) or "china-mirror" (`<base>/v1.35.6-k3s1/…`, "+" as "-", as rancher-mirror.rancher.cn does).',
            enum: ["github", "china-mirror"] as const,
            default: "github",
        }),
        sha256: map(str({ description: "Checksum of the k3s binary for this architecture.", pattern: SHA256 }), {
            description:
                "Pinned checksums of the k3s binary by architecture (amd64, arm64), checked instead of the release's sha256sum file. Changing one re-installs and restarts k3s (one node at a time) even under the same version: a re-published binary.",
            default: {},
            keyPattern: { regex: /^(?:amd64|arm64)$/, expected: '"amd64" or "arm64"' },
        }),
        dataDir: absolutePath({
            description: "k3s data directory (--data-dir).",
            default: "/data/k3s",
            ownedBecause: "destroy runs k3s's uninstall, which deletes the data directory and everything in it",
        }),
        disable: arr(
            str({
                description: "A packaged component to disable.",
                enum: ["traefik", "local-storage", "metrics-server", "servicelb", "coredns"] as const,
            }),
            { description: "Packaged components to disable (--disable).", default: ["traefik", "local-storage", "metrics-server"] },
        ),
        disableNetworkPolicy: bool({ description: "Disable the network policy controller.", default: true }),
        disableCloudController: bool({ description: "Disable the cloud controller manager.", default: true }),
        disableHelmController: bool({ description: "Disable the Helm controller.", default: true }),
        airgap: obj(
            {
                imagesUrl: optional(
                    str({
                        description: "URL of the k3s air-gap images tarball (verified when the release's sha256 file lists it).",
                        pattern: HTTP_URL,
                    }),
                ),
                imagesPath: optional(
                    absolutePath({
                        description: "Path of the air-gap images tarball on the machine that runs Pulumi (copied to each host).",
                    }),
                ),
            },
            {
                description:
                    "Air-gap images, placed in <dataDir>/agent/images. The binary comes from binaryBaseUrl (point it at a local mirror).",
                default: {},
            },
        ),
        readyTimeoutSeconds: int({ description: "How long to wait for a node to become Ready.", default: 300, min: 10, max: 3600 }),
        upgrade: obj(
            {
                drain: bool({
                    description:
                        "Drain a node (cordon, evict its pods respecting PodDisruptionBudgets) before its k3s restarts, and uncordon it once it is Ready at the target version. false: restart in place (single-node dev stacks).",
                    default: true,
                }),
                drainTimeoutSeconds: int({
                    description:
                        "How long a drain may take; past it the up fails naming the node and the pods that blocked it, and the node stays cordoned.",
                    default: 300,
                    min: 10,
                    max: 7200,
                }),
                agentConcurrency: int({
                    description: "How many agents restart at once, after every server runs the target version.",
                    default: 1,
                    min: 1,
                    max: 100,
                }),
                allowVersionSkew: bool({
                    description:
                        "Allow a k3s.version that skips a Kubernetes minor or goes back from what a host runs (refused at preview otherwise: Kubernetes supports one minor at a time, forward).",
                    default: false,
                }),
            },
            {
                description:
                    "How a change that restarts k3s rolls out: servers one at a time (each back Ready at the target version, the API's /readyz ok, before the next), then agents in batches.",
                default: {},
            },
        ),
        certificates: obj(
            {
                rotateDaysBefore: int({
                    description:
                        "Rotate a node's k3s certificates (`k3s certificate rotate`) when `pulumi up` finds them expiring within this many days: a rolling restart, one node at a time, servers first, each drained and back Ready before the next; the kubeconfig output is read again. 0: never (k3s still renews them at any restart within 120 days of expiry).",
                    default: 60,
                    min: 0,
                    max: 364,
                }),
            },
            {
                description:
                    "k3s's client and server certificates (valid 365 days): their expiry is read from k3s on every up and refresh (output hosts.<name>.k3sCertificatesExpireAt).",
                default: {},
            },
        ),
        extraConfig: json({
            description:
                "Any k3s config.yaml keys for every node (as in k3s's docs: `node-label`, `kube-apiserver-arg`, `secrets-encryption`, …), merged over the program's: a list appends to the program's list (`disable`), anything else replaces. Keys the program manages are refused (the message says what to set).",
            default: {},
        }),
        serverConfig: json({ description: "Like extraConfig, for servers only (after extraConfig).", default: {} }),
        agentConfig: json({ description: "Like extraConfig, for agents only (after extraConfig).", default: {} }),
        registrationAddress: optional(
            hostOrIp(
                "A fixed address of the servers (a DNS name, a virtual IP or a load balancer you provide, forwarding 6443 to every server): joining servers and agents register there (`server: https://<it>:6443`), every server's certificate carries it (tls-san), and the kubeconfig output points at it. Without it, they use hosts[0]'s apiAddress, and hosts[0] can never leave the stack; with it (set in an earlier up), hosts[0] may be replaced by another server of the cluster (docs/runbooks.md). Setting or changing it rewrites config.yaml and restarts k3s, one node at a time.",
            ),
        ),
        tlsSans: arr(hostOrIp("A name or address."), {
            description: "Extra names and addresses for the API server certificate (the server's address is always added).",
            default: [],
        }),
    },
    { description: "k3s on every host.", default: {} },
);
