/**
 * Stack config validation: every rule, with its exact message; defaults; every problem reported at once.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { join } from "node:path";
import { checkContextDirs, ConfigError, DEFAULT_VERSIONS, parseConfig, type RawConfig } from "../../components/config";
import { formatIssue } from "../../components/config/schema";
import { FAKE_SSH_KEY as KEY } from "../../tools/evaluate";

/** Raw config as Pulumi hands it over: strings, objects as JSON. */
function raw(values: Record<string, unknown>, secretKeys: string[] = []): RawConfig {
    return {
        values: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
        secretKeys: new Set(secretKeys),
    };
}

function problems(values: Record<string, unknown>, secretKeys: string[] = ["sshPrivateKey"], runningAsRoot = false): string[] {
    const r = parseConfig(raw(values, secretKeys), { runningAsRoot });
    return r.issues.map(formatIssue);
}

const sshHost = { name: "s1", address: "10.0.0.5" };
const base = { hosts: [sshHost], sshPrivateKey: KEY };

describe("parseConfig: valid config and defaults", () => {
    it("accepts the dev stack (one local host) and applies every default", () => {
        const r = parseConfig(raw({ hosts: [{ name: "local", role: "server", connection: "local" }] }), { runningAsRoot: false });
        assert.deepEqual(r.issues, []);
        const c = r.config!;
        assert.deepEqual(c.hosts, [
            { name: "local", role: "server", connection: { kind: "local", sudo: true }, apiAddress: "127.0.0.1", k3sConfig: {} },
        ]);
        assert.equal(c.sshUser, "root");
        assert.equal(c.sshPort, 22);
        assert.deepEqual(c.k3s, {
            version: DEFAULT_VERSIONS.k3s,
            installScriptUrl: "https://get.k3s.io",
            binaryBaseUrl: "https://github.com/k3s-io/k3s/releases/download",
            binaryLayout: "github",
            certificates: { rotateDaysBefore: 60 },
            dataDir: "/data/k3s",
            disable: ["traefik", "local-storage", "metrics-server"],
            disableNetworkPolicy: true,
            disableCloudController: true,
            disableHelmController: true,
            airgap: {},
            readyTimeoutSeconds: 300,
            sha256: {},
            upgrade: { drain: true, drainTimeoutSeconds: 300, agentConcurrency: 1, allowVersionSkew: false },
            extraConfig: {},
            serverConfig: {},
            agentConfig: {},
            tlsSans: [],
        });
        assert.deepEqual(c.buildkit, {
            version: DEFAULT_VERSIONS.buildkit,
            downloadBaseUrl: "https://github.com/moby/buildkit/releases/download",
            sha256: {},
            root: "/data/buildkit",
            containerdNamespace: "k8s.io",
            platforms: [],
            gc: { enabled: true, maxUsedCeiling: "100GB" },
            history: { maxAgeHours: 48, maxEntries: 50 },
            prune: { keepDurationHours: 168 },
            buildGraceSeconds: 900,
            debug: false,
            extraConfig: {},
        });
        assert.deepEqual(c.nerdctl, {
            enabled: true,
            version: DEFAULT_VERSIONS.nerdctl,
            downloadBaseUrl: "https://github.com/containerd/nerdctl/releases/download",
        });
        assert.deepEqual(c.cluster, {
            enabled: true,
            namespace: "buildkit",
            replicas: 1,
            mode: "privileged",
            imageRepository: "docker.io/moby/buildkit",
            stateSize: "50Gi",
            resources: { requests: {}, limits: {} },
            nodeSelector: {},
            tolerations: [],
            apiTunnel: {},
            cacheReport: { enabled: true, schedule: "*/30 * * * *" },
            extraConfig: {},
        });
        assert.deepEqual(c.registries, {});
        assert.deepEqual(c.builds, []);
    });

    it("a local host skips sudo when Pulumi runs as root", () => {
        const r = parseConfig(raw({ hosts: [{ name: "local", connection: "local" }] }), { runningAsRoot: true });
        assert.deepEqual(r.config!.hosts[0].connection, { kind: "local", sudo: false });
    });

    it("resolves ssh hosts: default user/port from sshUser/sshPort, sudo for non-root users, bastion", () => {
        const r = parseConfig(
            raw(
                {
                    sshPrivateKey: KEY,
                    sshUser: "debian",
                    sshPort: "2222",
                    hosts: [
                        { name: "s1", address: "10.0.0.5", bastion: { address: "jump.example.com" } },
                        {
                            name: "a1",
                            role: "agent",
                            address: "10.0.0.6",
                            user: "root",
                            port: 22,
                            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB",
                        },
                    ],
                },
                ["sshPrivateKey"],
            ),
            { runningAsRoot: false },
        );
        assert.deepEqual(r.issues, []);
        assert.deepEqual(r.config!.hosts, [
            {
                name: "s1",
                role: "server",
                apiAddress: "10.0.0.5",
                k3sConfig: {},
                connection: {
                    kind: "ssh",
                    host: "10.0.0.5",
                    port: 2222,
                    user: "debian",
                    sudo: true,
                    bastion: { host: "jump.example.com", port: 22, user: "root" },
                    dialErrorLimit: 10,
                    dialTimeoutSeconds: 15,
                },
            },
            {
                name: "a1",
                role: "agent",
                apiAddress: "10.0.0.6",
                k3sConfig: {},
                connection: {
                    kind: "ssh",
                    host: "10.0.0.6",
                    port: 22,
                    user: "root",
                    sudo: false,
                    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB",
                    dialErrorLimit: 10,
                    dialTimeoutSeconds: 15,
                },
            },
        ]);
    });

    it("an explicit sudo: false wins over the non-root default", () => {
        const r = parseConfig(raw({ ...base, hosts: [{ ...sshHost, user: "ops", sudo: false }] }, ["sshPrivateKey"]), {
            runningAsRoot: false,
        });
        assert.equal(r.config!.hosts[0].connection.sudo, false);
    });

    it("accepts a bring-your-own kubeconfig without hosts", () => {
        assert.deepEqual(problems({ kubeconfig: "apiVersion: v1" }, ["kubeconfig"]), []);
    });
});

describe("parseConfig: every rule, exact messages", () => {
    const cases: [string, Record<string, unknown>, string[], string[]?][] = [
        [
            "unknown top-level key with a suggestion",
            { ...base, hostz: [] },
            [
                'hostz: unknown key; did you mean "hosts"? known keys: buildSecrets, buildkit, builds, cluster, deployments, hostBuilds, hosts, k3s, kubeconfig, nerdctl, proxy, registries, registryPasswords, sshPort, sshPrivateKey, sshPrivateKeyPassphrase, sshUser',
            ],
        ],
        [
            "unknown nested key",
            { ...base, hosts: [{ ...sshHost, adress: "x" }] },
            [
                'hosts[0].adress: unknown key; did you mean "address"? known keys: address, apiAddress, bastion, connection, dialErrorLimit, dialTimeoutSeconds, hostKey, k3sConfig, name, port, role, sudo, user',
            ],
        ],
        [
            "unknown key with no close match",
            { ...base, k3s: { zzzzzzzzzz: 1 } },
            [
                "k3s.zzzzzzzzzz: unknown key; known keys: agentConfig, airgap, binaryBaseUrl, binaryLayout, certificates, dataDir, disable, disableCloudController, disableHelmController, disableNetworkPolicy, extraConfig, installScriptUrl, readyTimeoutSeconds, registrationAddress, serverConfig, sha256, tlsSans, upgrade, version",
            ],
        ],
        [
            "structured key that is not JSON",
            { ...base, k3s: "{not json" },
            ["k3s: is not valid JSON; set structured values in Pulumi.<stack>.yaml or with pulumi config set --path"],
        ],
        [
            "wrong type: string for an object",
            { ...base, buildkit: "v0.1" },
            ["buildkit: is not valid JSON; set structured values in Pulumi.<stack>.yaml or with pulumi config set --path"],
        ],
        ["wrong type: list for an object", { ...base, buildkit: [] }, ["buildkit: expected an object, got a list"]],
        ["wrong type: object for a list", { ...base, hosts: {} }, ["hosts: expected a list, got an object"]],
        [
            "wrong type: number for a string",
            { ...base, hosts: [{ ...sshHost, name: 5 }] },
            ["hosts[0].name: expected a string, got number 5"],
        ],
        [
            "wrong type: string for a boolean",
            { ...base, nerdctl: { enabled: "yes" } },
            ['nerdctl.enabled: expected true or false, got the string "yes"'],
        ],
        ["wrong type: text for an integer", { ...base, sshPort: "ssh" }, ['sshPort: expected an integer, got the string "ssh"']],
        [
            "BuildKit history must keep at least one record (0 turns history off, and restarts wait on it)",
            { ...base, buildkit: { history: { maxEntries: 0 } } },
            ["buildkit.history.maxEntries: must be an integer from 1 to 100000; got 0"],
        ],
        [
            "max-parallelism of at least one step",
            { ...base, buildkit: { maxParallelism: 0 } },
            ["buildkit.maxParallelism: must be an integer from 1 to 1024; got 0"],
        ],
        [
            "a GC ceiling is a size, not a percentage",
            { ...base, buildkit: { gc: { maxUsedCeiling: "60%" } } },
            ['buildkit.gc.maxUsedCeiling: expected a size like "100GB" or "512MB" (binary units: 1GB is 1024³ bytes); got "60%"'],
        ],
        [
            "a prune schedule is a calendar event, never a shell or unit fragment",
            { ...base, buildkit: { prune: { schedule: "daily; rm -rf /" } } },
            [
                'buildkit.prune.schedule: expected a systemd calendar event like "daily" or "Sun *-*-* 03:00" (letters, digits, space and * : / , . ~ + -); got "daily; rm -rf /"',
            ],
        ],
        [
            "a build grace period is bounded",
            { ...base, buildkit: { buildGraceSeconds: -1 } },
            ["buildkit.buildGraceSeconds: must be an integer from 0 to 86400; got -1"],
        ],

        [
            "integer out of range",
            { ...base, hosts: [{ ...sshHost, port: 0 }] },
            ["hosts[0].port: must be an integer from 1 to 65535; got 0"],
        ],
        ["fractional integer", { ...base, cluster: { replicas: 1.5 } }, ["cluster.replicas: expected an integer, got number 1.5"]],
        ["enum", { ...base, hosts: [{ ...sshHost, role: "master" }] }, ['hosts[0].role: must be one of "server", "agent"; got "master"']],
        [
            "empty string",
            { ...base, hosts: [{ ...sshHost, address: " " }] },
            ["hosts[0].address: must not be empty: IP address or DNS name to SSH to (ssh hosts only)."],
        ],
        [
            "required key",
            { ...base, hosts: [{ address: "10.0.0.5" }] },
            ["hosts[0].name: is required: unique name of the host; used in resource names."],
        ],
        [
            "host name pattern",
            { ...base, hosts: [{ ...sshHost, name: "Server_1" }] },
            ['hosts[0].name: expected a lowercase DNS label of at most 40 characters (a-z, 0-9, \'-\'), like "server-1"; got "Server_1"'],
        ],
        [
            "address pattern rejects shell syntax",
            { ...base, hosts: [{ ...sshHost, address: "$(reboot)" }] },
            ['hosts[0].address: expected a DNS name or an IP address (like 10.0.0.5 or build-1.example.com); got "$(reboot)"'],
        ],
        [
            "user pattern",
            { ...base, hosts: [{ ...sshHost, user: "root;id" }] },
            ["hosts[0].user: expected a Unix user name (lowercase letters, digits, '_' or '-', like \"ubuntu\"); got \"root;id\""],
        ],
        [
            "host key pattern",
            { ...base, hosts: [{ ...sshHost, hostKey: "AAAA" }] },
            [
                'hosts[0].hostKey: expected an OpenSSH public host key line like "ssh-ed25519 AAAAC3Nza…" (from ssh-keyscan, without the host name); got "AAAA"',
            ],
        ],
        [
            "bastion requires an address",
            { ...base, hosts: [{ ...sshHost, bastion: {} }] },
            ["hosts[0].bastion.address: is required: bastion host address."],
        ],
        [
            "version must be pinned",
            { ...base, k3s: { version: "latest" } },
            [
                `k3s.version: expected a pinned release version like "${DEFAULT_VERSIONS.k3s}" ("latest" and ranges are not allowed: a preview must mean the same tomorrow); got "latest"`,
            ],
        ],
        [
            "buildkit version form",
            { ...base, buildkit: { version: "0.20" } },
            [
                `buildkit.version: expected a pinned release version like "${DEFAULT_VERSIONS.buildkit}" ("latest" and ranges are not allowed: a preview must mean the same tomorrow); got "0.20"`,
            ],
        ],
        [
            "URL form",
            { ...base, k3s: { installScriptUrl: "ftp://x" } },
            ["k3s.installScriptUrl: expected an http:// or https:// URL without spaces, quotes, '$' or backslashes; got \"ftp://x\""],
        ],
        [
            "URL with shell syntax",
            { ...base, nerdctl: { downloadBaseUrl: "https://x/$(id)" } },
            [
                "nerdctl.downloadBaseUrl: expected an http:// or https:// URL without spaces, quotes, '$' or backslashes; got \"https://x/$(id)\"",
            ],
        ],
        [
            "path form",
            { ...base, k3s: { dataDir: "data/k3s" } },
            ['k3s.dataDir: expected an absolute path of plain characters (A-Z a-z 0-9 . _ + @ - /), like /data/k3s; got "data/k3s"'],
        ],
        [
            "list item enum",
            { ...base, k3s: { disable: ["traefik", "flannel"] } },
            ['k3s.disable[1]: must be one of "traefik", "local-storage", "metrics-server", "servicelb", "coredns"; got "flannel"'],
        ],
        [
            "checksum form",
            { ...base, buildkit: { sha256: { amd64: "abc" } } },
            ['buildkit.sha256.amd64: expected a sha256 checksum: 64 lowercase hex digits; got "abc"'],
        ],
        [
            "checksum architecture key",
            { ...base, buildkit: { sha256: { x86_64: "a".repeat(64) } } },
            ['buildkit.sha256.x86_64: key must be "amd64" or "arm64"'],
        ],
        [
            "GC size form",
            { ...base, buildkit: { gc: { maxUsedSpace: "lots" } } },
            ['buildkit.gc.maxUsedSpace: expected a size like "50GB" or a percentage like "60%"; got "lots"'],
        ],
        [
            "platform form",
            { ...base, buildkit: { platforms: ["amd64"] } },
            ['buildkit.platforms[0]: expected a platform like "linux/amd64" or "linux/arm64"; got "amd64"'],
        ],
        [
            "registry host key",
            { ...base, registries: { "https://docker.io": {} } },
            ['registries["https://docker.io"]: key must be a registry host, optionally with a port, like "docker.io" or "10.0.0.9:5000"'],
        ],
        ["cluster mode", { ...base, cluster: { mode: "root" } }, ['cluster.mode: must be one of "privileged", "rootless"; got "root"']],
        [
            "cache report schedule",
            { ...base, cluster: { cacheReport: { schedule: "every 30 minutes" } } },
            [
                'cluster.cacheReport.schedule: expected a cron schedule of five fields like "*/30 * * * *", or @hourly, @daily, @weekly; got "every 30 minutes"',
            ],
        ],
        [
            "list too short",
            { ...base, builds: [{ name: "app", context: { git: "https://example.com/a.git" }, tags: [] }] },
            ["builds[0].tags: must have at least 1 item(s); got 0"],
        ],
        [
            "build context: exactly one source",
            {
                ...base,
                builds: [{ name: "app", context: { git: "https://example.com/a.git", url: "https://example.com/a.tgz" }, tags: ["r/a:1"] }],
            },
            ["builds[0].context: set exactly one of git, url, files; got git and url"],
        ],
        [
            "build context: none",
            { ...base, builds: [{ name: "app", context: {}, tags: ["r/a:1"] }] },
            ["builds[0].context: set exactly one of git, url, files; got none"],
        ],
        [
            "secret stored in plain text",
            { ...base },
            ["sshPrivateKey: must be stored as a secret; set it with: pulumi config set --secret sshPrivateKey …"],
            [],
        ],
        [
            "duplicate host names",
            { ...base, hosts: [sshHost, { ...sshHost, address: "10.0.0.6" }] },
            ['hosts[1].name: "s1" is already used by hosts[0]; host names must be unique'],
        ],
        [
            "ssh host without address",
            { ...base, hosts: [{ name: "s1" }] },
            ['hosts[0].address: is required when connection is "ssh": set the host\'s IP address or DNS name'],
        ],
        [
            "local host with ssh settings",
            { hosts: [{ name: "l", connection: "local", address: "10.0.0.5", port: 22 }] },
            [
                'hosts[0].address: is not used when connection is "local"; remove it, or set connection: ssh',
                'hosts[0].port: is not used when connection is "local"; remove it, or set connection: ssh',
            ],
        ],
        [
            "apiAddress on an agent",
            { ...base, hosts: [sshHost, { name: "a1", role: "agent", address: "10.0.0.6", apiAddress: "10.0.0.7" }] },
            ['hosts[1].apiAddress: is only used on hosts with role "server"; remove it'],
        ],
        [
            "a local first server that others join needs an apiAddress",
            {
                ...base,
                hosts: [
                    { name: "l", connection: "local" },
                    { name: "a1", role: "agent", address: "10.0.0.6" },
                ],
            },
            ["hosts[0].apiAddress: is required when other hosts join a local first server: set the address they can reach it on"],
        ],
        [
            "air-gap images from a URL and a path",
            { ...base, k3s: { airgap: { imagesUrl: "https://m.example.com/i.tar.zst", imagesPath: "/srv/i.tar.zst" } } },
            ["k3s.airgap.imagesPath: set either imagesUrl or imagesPath, not both"],
        ],
        [
            "two local hosts",
            {
                hosts: [
                    { name: "l1", connection: "local", apiAddress: "10.0.0.5" },
                    { name: "l2", connection: "local", role: "agent" },
                ],
            },
            ['hosts[1].connection: only one host can be "local" (hosts[0] already is)'],
        ],
        [
            "first host must be a server",
            { ...base, hosts: [{ ...sshHost, role: "agent" }] },
            ['hosts[0].role: the first host must be a "server": it initialises the cluster, and agents and other servers join it'],
        ],
        [
            "ssh hosts need a key",
            { hosts: [sshHost] },
            [
                "sshPrivateKey: is required because hosts[0] connects over SSH; set it with: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519",
            ],
        ],
        [
            "kubeconfig and hosts together",
            { ...base, kubeconfig: "x" },
            ["kubeconfig: set either kubeconfig (bring your own cluster) or hosts (the k3s server's kubeconfig is used), not both"],
            ["sshPrivateKey", "kubeconfig"],
        ],
        [
            "neither hosts nor kubeconfig",
            {},
            [
                "hosts: no hosts and no kubeconfig: add at least one host (e.g. { name: local, connection: local }) or set the secret kubeconfig",
            ],
        ],
        [
            "duplicate build names",
            {
                ...base,
                builds: [
                    { name: "app", context: { url: "https://e.com/a.tgz" }, tags: ["r/a:1"] },
                    { name: "app", context: { url: "https://e.com/b.tgz" }, tags: ["r/b:1"] },
                ],
            },
            ['builds[1].name: "app" is already used by builds[0]; build names must be unique'],
        ],
        [
            "build and host build share a name",
            {
                ...base,
                builds: [{ name: "app", context: { url: "https://e.com/a.tgz" }, tags: ["r/a:1"] }],
                hostBuilds: [{ name: "app", context: { files: { Dockerfile: "FROM scratch" } }, tags: ["a:dev"] }],
            },
            ['hostBuilds[0].name: "app" is already used by builds[0]; build names must be unique'],
        ],
        [
            "build secret and git token not in buildSecrets",
            {
                ...base,
                builds: [
                    {
                        name: "app",
                        context: { git: "https://git.example.com/team/app.git", ref: "v1", gitTokenSecret: "gh" },
                        secrets: ["npm"],
                        tags: ["r/a:1"],
                    },
                ],
            },
            [
                `builds[0].secrets[0]: names the build secret "npm", which buildSecrets does not have; set it with: pulumi config set --secret --path 'buildSecrets["npm"]' …`,
                `builds[0].context.gitTokenSecret: names the build secret "gh", which buildSecrets does not have; set it with: pulumi config set --secret --path 'buildSecrets["gh"]' …`,
            ],
        ],
        [
            "git-only keys without git",
            { ...base, builds: [{ name: "app", context: { url: "https://e.com/a.tgz", ref: "main" }, tags: ["r/a:1"] }] },
            ["builds[0].context.ref: is only used with context.git; remove it"],
        ],
        [
            "hostile git URL and context path",
            {
                ...base,
                builds: [{ name: "app", context: { git: "https://e.com/a.git#$(reboot)" }, dockerfile: "../etc/passwd", tags: ["r/a:1"] }],
            },
            [
                "builds[0].context.git: expected a git URL without '#'; got \"https://e.com/a.git#$(reboot)\"",
                "builds[0].dockerfile: expected a relative path of plain characters inside the context, like docker/Dockerfile (no '..'); got \"../etc/passwd\"",
            ],
        ],
        [
            "local cache without a claim; registry-only keys on another cache type",
            {
                ...base,
                builds: [
                    { name: "a", context: { url: "https://e.com/a.tgz" }, tags: ["r/a:1"], cache: { type: "local" } },
                    { name: "b", context: { url: "https://e.com/b.tgz" }, tags: ["r/b:1"], cache: { type: "none", imageManifest: true } },
                    { name: "c", context: { url: "https://e.com/c.tgz" }, tags: ["r/c:1"], push: false, cache: { type: "inline" } },
                ],
            },
            [
                'builds[0].cache.claimName: is required when cache.type is "local": name a PersistentVolumeClaim',
                'builds[1].cache.imageManifest: is only used when cache.type is "registry"; remove it',
                'builds[2].cache.type: "inline" stores the cache in the pushed image, so it needs push: true; use "registry" or "local"',
            ],
        ],
        [
            "builds without the in-cluster daemon",
            { ...base, cluster: { enabled: false }, builds: [{ name: "a", context: { url: "https://e.com/a.tgz" }, tags: ["r/a:1"] }] },
            ["builds[0]: builds run against the in-cluster daemon, but cluster.enabled is false; enable it or use hostBuilds"],
        ],
        [
            "host build context: exactly one source (schema errors stop before cross-key rules)",
            {
                ...base,
                hostBuilds: [
                    { name: "a", host: "s9", context: { dir: "./a" }, tags: ["a:dev"] },
                    { name: "b", context: { dir: "./b", files: { Dockerfile: "FROM scratch" } }, tags: ["b:dev"] },
                ],
            },
            ["hostBuilds[1].context: set exactly one of dir, git, files; got dir and files"],
        ],
        [
            "host build on an unknown host",
            { ...base, hostBuilds: [{ name: "a", host: "s9", context: { dir: "./a" }, tags: ["a:dev"] }] },
            ['hostBuilds[0].host: "s9" is not a host; expected one of "s1"'],
        ],
        [
            "deployment of an unknown build",
            {
                ...base,
                hostBuilds: [{ name: "dev", context: { dir: "./a" }, tags: ["a:dev"] }],
                deployments: [{ name: "web", build: "web" }],
            },
            ['deployments[0].build: "web" is not a build; expected the name of a builds[] or hostBuilds[] entry ("dev")'],
        ],
        [
            "registry user without password",
            { ...base, registries: { "r.example.com": { username: "ci" } } },
            [
                `registries["r.example.com"].username: has no password; set it with: pulumi config set --secret --path 'registryPasswords["r.example.com"]' …`,
            ],
        ],
        [
            "password without registry user",
            { ...base, registryPasswords: { "r.example.com": "pw" } },
            [
                'registryPasswords["r.example.com"]: has no matching registries["r.example.com"].username; add the user name there or remove this password',
            ],
            ["sshPrivateKey", "registryPasswords"],
        ],
        [
            "http and insecure together",
            { ...base, registries: { "10.0.0.9:5000": { http: true, insecure: true } } },
            [
                'registries["10.0.0.9:5000"].insecure: cannot be combined with http: true (insecure means HTTPS without certificate checks); keep only the one that matches the registry',
            ],
        ],
    ];
    for (const [name, values, expected, secretKeys] of cases) {
        it(name, () => assert.deepEqual(problems(values, secretKeys ?? ["sshPrivateKey"]), expected));
    }

    it("reports every problem at once, across keys", () => {
        const found = problems({ hosts: [{ name: "A", address: "$(x)", port: 70000 }], k3s: { version: "latest" } });
        assert.deepEqual(found, [
            'hosts[0].name: expected a lowercase DNS label of at most 40 characters (a-z, 0-9, \'-\'), like "server-1"; got "A"',
            'hosts[0].address: expected a DNS name or an IP address (like 10.0.0.5 or build-1.example.com); got "$(x)"',
            "hosts[0].port: must be an integer from 1 to 65535; got 70000",
            `k3s.version: expected a pinned release version like "${DEFAULT_VERSIONS.k3s}" ("latest" and ranges are not allowed: a preview must mean the same tomorrow); got "latest"`,
        ]);
    });

    it("ConfigError lists every problem and says nothing was changed", () => {
        const e = new ConfigError([
            { path: "a", message: "x" },
            { path: "b[0]", message: "y" },
        ]);
        assert.equal(e.message, "invalid stack config (2 problems); nothing was changed:\n  - a: x\n  - b[0]: y");
    });
});

describe("host build directories", () => {
    it("a missing directory is reported with its key and where it was looked for; an existing one passes", () => {
        const hostBuilds = [
            { context: { dir: "examples/devcontainer" } },
            { context: { dir: "no/such/dir" } },
            { context: { files: { Dockerfile: "FROM scratch" } } },
        ] as never;
        const root = join(__dirname, "../..");
        assert.deepEqual(checkContextDirs({ hostBuilds }, root), [
            {
                path: "hostBuilds[1].context.dir",
                message: `"no/such/dir" is not a directory (looked at ${root}/no/such/dir); relative paths start at the Pulumi project directory`,
            },
        ]);
    });
});
