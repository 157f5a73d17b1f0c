/** Stack config: k3s on every host. */
import { absolutePath, DEFAULT_VERSIONS, hostOrIp, HTTP_URL, version } from "./fields";
import { arr, bool, int, obj, optional, str } from "./schema";

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
        tlsSans: arr(hostOrIp("A name or address."), {
            description: "Extra names and addresses for the API server certificate (the server's address is always added).",
            default: [],
        }),
    },
    { description: "k3s on every host.", default: {} },
);
