/**
 * Fuzz: every config key that reaches a shell, a file, an argv, a manifest or a URL, against a fixed table
 * of hostile values. Each (key, value) is either
 * - rejected by validation with that key's path, and then the program registers 0 resources; or
 * - accepted, and proven intact end to end: the program is evaluated under mocks, every generated script
 *   (and the build Job's command) whose text the value changed is run by a real bash/sh in a read-only
 *   sandbox with recording stubs (test/harness/sandbox.ts), every generated file is parsed with a real
 *   TOML/YAML parser, every manifest and connection read as data; the value must arrive whole in at least
 *   one of those (a recorded argv, a variable as bash read it back, a parsed file's string, a manifest
 *   field), and the marker file a hostile value tries to create must not appear.
 *
 * The table (keys × values, rejected / accepted-intact) is printed as test diagnostics.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { tarEntries } from "../../components/builds/context";
import { buildScript, contextEntries } from "../../components/host/host-build-provider";
import { airgapStagingPath } from "../../components/host/k3s";
import { checkContextDirs, parseConfig, SECRET_KEYS, stackSchema } from "../../components/config";
import { formatIssue, walkFields } from "../../components/config/schema";
import { FAKE_SSH_KEY as KEY, isSecretValue, type RecordedWithDeps, runPlatform, tryProgram } from "../../tools/evaluate";
import { Sandbox } from "../harness/sandbox";

const sandbox = new Sandbox("/tmp/k3sbk-fuzz");
const MARK = sandbox.marker;
after(() => rmSync(sandbox.dir, { recursive: true, force: true }));

/** The hostile values: [label, value]. */
const HOSTILE: readonly (readonly [string, string])[] = [
    ["single quote", "it's"],
    ["double quote", 'say "hi"'],
    ["$()", `$(touch ${MARK})`],
    ["backticks", `\`touch ${MARK}\``],
    [";", `x; touch ${MARK}`],
    ["|", `x | touch ${MARK}`],
    ["&", `x & touch ${MARK} &`],
    ["newline", `x\ntouch ${MARK}`],
    ["CR", "x\rtouch"],
    ["NUL", "x\u0000--output"],
    ["ESC", "x\u001b[31m"],
    ["%-specifiers", "%s%n%x%%"],
    ["leading -", `-o${MARK}-evil`],
    ["--option", `--output=type=local,dest=${sandbox.dir}/out`],
    ["..", "../../etc/passwd"],
    ["glob", "*?[a-z]"],
    ["${}", "${HOME}$PATH"],
    ["backslash", "a\\b\\"],
    ["tab", "a\tb"],
    ["#", "#x"],
    ["~", "~root"],
    ["a=b,c=d", "a=b,c=d"],
    ["TOML breakout", 'x"\n[evil]\nk = "v'],
    ["YAML breakout", "x: y\n- z"],
    ["unicode", "ünïcødé ✓ \u202e"],
    ["100 kB", "a".repeat(100_000)],
];

const HK = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB";
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const M = "https://mirror.example.com";
const KUBECONFIG = [
    "apiVersion: v1",
    "kind: Config",
    "clusters: [{ name: c, cluster: { server: 'https://10.0.0.5:6443', certificate-authority-data: Q0E= } }]",
    "users: [{ name: u, user: { token: t } }]",
    "contexts: [{ name: x, context: { cluster: c, user: u } }]",
    "current-context: x",
    "",
].join("\n");
const contextDir = mkdtempSync(join(tmpdir(), "fuzz-ctx-"));
writeFileSync(join(contextDir, "Dockerfile"), "FROM scratch\n");
after(() => rmSync(contextDir, { recursive: true, force: true }));

/** Base A: every key present (one of each list and map), hosts over SSH, git and inline contexts. */
function baseA(): Record<string, unknown> {
    return {
        sshUser: "admin",
        sshPrivateKey: KEY,
        sshPrivateKeyPassphrase: "pp",
        hosts: [
            {
                name: "server-1",
                role: "server",
                connection: "ssh",
                address: "10.0.0.5",
                user: "admin",
                hostKey: HK,
                bastion: { address: "jump.example.com", user: "jump", hostKey: HK },
                apiAddress: "api.example.com",
            },
            { name: "agent-1", role: "agent", address: "10.0.0.6" },
        ],
        k3s: {
            version: "v1.35.6+k3s1",
            installScriptUrl: `${M}/k3s/install.sh`,
            binaryBaseUrl: `${M}/k3s`,
            binaryLayout: "github",
            sha256: { amd64: "b".repeat(64) },
            dataDir: "/data/k3s",
            disable: ["traefik"],
            airgap: { imagesUrl: `${M}/airgap.tar.zst` },
            tlsSans: ["k3s.example.com"],
            registrationAddress: "k3s-api.example.com",
        },
        buildkit: {
            version: "v0.33.1",
            downloadBaseUrl: `${M}/buildkit`,
            sha256: { amd64: "a".repeat(64) },
            root: "/data/buildkit",
            containerdNamespace: "k8s.io",
            platforms: ["linux/amd64"],
            gc: { reservedSpace: "10GB", maxUsedSpace: "50GB", minFreeSpace: "20%", maxUsedCeiling: "100GB" },
            prune: { schedule: "Sun *-*-* 03:00", keepStorageMB: 1000 },
        },
        nerdctl: { version: "2.4.1", downloadBaseUrl: `${M}/nerdctl` },
        registries: {
            "registry.example.com": { mirrors: ["mirror.example.com"], runtimeMirrors: ["rt.example.com"], ca: PEM, username: "bot" },
            "spare.example.com": { mirrors: ["m2.example.com"] },
        },
        registryPasswords: { "registry.example.com": "pw" },
        proxy: { http: "http://proxy.example.com:3128", https: "http://proxy.example.com:3128", noProxy: [".corp.example.com"] },
        cluster: {
            namespace: "buildkit",
            mode: "privileged",
            imageRepository: "docker.io/moby/buildkit",
            storageClass: "fast",
            stateSize: "50Gi",
            resources: { requests: { cpu: "1" }, limits: { memory: "4Gi" } },
            nodeSelector: { "kubernetes.io/os": "linux" },
            tolerations: [{ key: "dedicated", operator: "Equal", value: "build", effect: "NoSchedule" }],
            cacheReport: { schedule: "*/30 * * * *" },
        },
        builds: [
            {
                name: "api",
                context: { git: "https://git.example.com/api.git", ref: "main", subdir: "svc", gitTokenSecret: "gh" },
                dockerfile: "Dockerfile",
                target: "prod",
                buildArgs: { A: "1" },
                platforms: ["linux/amd64"],
                secrets: ["npm"],
                trigger: "t1",
                tags: ["registry.example.com/api:1"],
                exports: [{ type: "oci", claimName: "out", path: "api.tar" }],
                cache: { type: "registry", ref: "registry.example.com/api:cache" },
            },
        ],
        hostBuilds: [
            {
                name: "dev",
                host: "server-1",
                context: { files: { Dockerfile: "FROM scratch\nCOPY motd /\n", motd: "hi\n" } },
                dockerfile: "Dockerfile",
                target: "x",
                buildArgs: { B: "2" },
                platforms: ["linux/amd64"],
                secrets: ["npm"],
                trigger: "t",
                tags: ["dev:1"],
            },
        ],
        buildSecrets: { npm: "tok", gh: "ghtok", spare: "x" },
        deployments: [{ name: "web", namespace: "default", build: "dev", command: ["sh", "-c", "echo hi"] }],
    };
}
type Config = Record<string, unknown>;
const at = (c: Config, path: (string | number)[]): Record<string | number, unknown> =>
    path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], c) as Record<string | number, unknown>;

/** Base B: the other sides of the exclusive keys (url context, inline Dockerfiles, local cache, air-gap path, git host build). */
function baseB(): Config {
    const c = baseA();
    const b = at(c, ["builds", 0]);
    b.context = { url: "https://ctx.example.com/c.tar.gz" };
    b.dockerfileInline = "FROM scratch\n";
    b.cache = { type: "local", claimName: "cache" };
    at(c, ["k3s"]).airgap = { imagesPath: "/srv/airgap.tar.zst" };
    const h = at(c, ["hostBuilds", 0]);
    h.context = { git: "https://git.example.com/dev.git", ref: "main", subdir: "d", gitTokenSecret: "gh" };
    h.dockerfileInline = "FROM scratch\n";
    return c;
}
/** Base C: inline files for the in-cluster build, a directory for the host build. */
function baseC(): Config {
    const c = baseA();
    at(c, ["builds", 0]).context = { files: { Dockerfile: "FROM scratch\n", motd: "x" } };
    at(c, ["hostBuilds", 0]).context = { dir: contextDir };
    return c;
}
/** Base D: a cluster brought with its kubeconfig, no hosts. */
function baseD(): Config {
    const a = baseA();
    return {
        kubeconfig: KUBECONFIG,
        builds: a.builds,
        buildSecrets: a.buildSecrets,
        registries: a.registries,
        registryPasswords: a.registryPasswords,
        cluster: a.cluster,
    };
}
const BASES = { A: baseA, B: baseB, C: baseC, D: baseD } as const;

/** How a hostile value is put into a key so that the rest of the value is valid. */
const URL_KEYS = /(?:Url|\.url|\.git)$/;
const ABS_KEYS = /^(?:k3s\.dataDir|buildkit\.root|k3s\.airgap\.imagesPath)$/;
const REL_KEYS = /(?:\.dockerfile|\.subdir|exports\[\]\.path)$/;
function wrap(schemaPath: string, v: string): string {
    if (URL_KEYS.test(schemaPath)) return `${M}/q/${v}`;
    if (ABS_KEYS.test(schemaPath)) return `/data/q/${v}`;
    if (REL_KEYS.test(schemaPath) || schemaPath.endsWith("files{key}")) return `q/${v}`;
    if (schemaPath === "hostBuilds[].context.dir") return `${contextDir}/${v}`;
    return v;
}

/** Map keys that are fuzzed by renaming this entry (one nothing else refers to). */
const RENAME: Record<string, string> = {
    "buildkit.sha256": "amd64",
    "k3s.sha256": "amd64",
    registries: "spare.example.com",
    "cluster.resources.requests": "cpu",
    "cluster.resources.limits": "memory",
    "cluster.nodeSelector": "kubernetes.io/os",
    "builds[].context.files": "motd",
    "hostBuilds[].context.files": "motd",
    "builds[].buildArgs": "A",
    "hostBuilds[].buildArgs": "B",
    buildSecrets: "spare",
};

interface Target {
    /** Schema path (`hosts[].address`, `registries{}.ca`, `buildSecrets{key}`). */
    readonly key: string;
    readonly base: keyof typeof BASES;
    /** Concrete path of the value (or of the map whose key is renamed). */
    readonly path: (string | number)[];
    readonly renames?: string;
    /** Issue paths that count as "rejected with this key". */
    readonly prefixes: string[];
}

/** Concrete path in `c` for a schema path, or undefined when `c` has no value there. */
function concrete(c: Config, schemaPath: string): (string | number)[] | undefined {
    const out: (string | number)[] = [];
    let node: unknown = c;
    for (const part of schemaPath.split(".")) {
        const m = /^([^[{]+)((?:\[\]|\{\})*)$/.exec(part);
        if (m === null) return undefined;
        out.push(m[1]);
        node = (node as Record<string, unknown> | undefined)?.[m[1]];
        for (const suffix of m[2].match(/\[\]|\{\}/g) ?? []) {
            if (node === undefined || node === null) return undefined;
            const k = suffix === "[]" ? 0 : Object.keys(node)[0];
            if (k === undefined) return undefined;
            out.push(k);
            node = (node as Record<string | number, unknown>)[k];
        }
    }
    return node === undefined || node === null ? undefined : out;
}

const displayPath = (path: (string | number)[]) =>
    path.reduce<string>(
        (s, k) =>
            typeof k === "number"
                ? `${s}[${k}]`
                : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k)
                  ? s === ""
                      ? k
                      : `${s}.${k}`
                  : `${s}[${JSON.stringify(k)}]`,
        "",
    );

function targets(): Target[] {
    const out: Target[] = [];
    for (const { path, field } of walkFields(stackSchema)) {
        if (field.kind === "string" || field.kind === "json") {
            if (field.kind === "json") continue; // free-form objects: keys and values are checked by the map-key and value rows below
            const base = (Object.keys(BASES) as (keyof typeof BASES)[]).find((b) => concrete(BASES[b](), path) !== undefined);
            assert.ok(base !== undefined, `no base config holds ${path}`);
            const p = concrete(BASES[base](), path)!;
            out.push({ key: path, base, path: p, prefixes: [displayPath(p)] });
        }
        if (field.kind === "map") {
            const base = (Object.keys(BASES) as (keyof typeof BASES)[]).find((b) => concrete(BASES[b](), path) !== undefined)!;
            const p = concrete(BASES[base](), path)!;
            const shown = displayPath(p);
            if (path === "registryPasswords") {
                // A password's key must name a registry with a user: rename both.
                out.push({ key: `${path}{key}`, base, path: p, renames: "registry.example.com", prefixes: [shown, "registries"] });
            } else {
                const renames = RENAME[path];
                assert.ok(renames !== undefined, `no entry to rename for map ${path}`);
                out.push({ key: `${path}{key}`, base, path: p, renames, prefixes: [shown] });
            }
        }
    }
    return out;
}

/** Sets `value` for `t` in `c` (a fresh copy of t's base config by default). */
function apply(t: Target, value: string, c: Config = BASES[t.base]()): Config {
    const parent = at(c, t.path.slice(0, -1));
    const last = t.path[t.path.length - 1];
    if (t.renames === undefined) {
        parent[last] = value;
        return c;
    }
    const map = at(c, t.path);
    const renamed: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(map)) {
        if (k === t.renames) Object.defineProperty(renamed, value, { value: v, enumerable: true, writable: true, configurable: true });
        else renamed[k] = v;
    }
    parent[last] = renamed;
    if (t.key === "registryPasswords{key}") {
        const regs = at(c, ["registries"]);
        const r = regs["registry.example.com"];
        delete regs["registry.example.com"];
        Object.defineProperty(regs, value, { value: r, enumerable: true, writable: true, configurable: true });
        const builds = c.builds as { tags: string[]; cache: { ref?: string } }[];
        delete builds[0].cache.ref;
    }
    return c;
}

const secretKeysOf = (c: Config) => SECRET_KEYS.filter((k) => c[k] !== undefined);

function issuesOf(c: Config): string[] {
    const raw = {
        values: Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
        secretKeys: new Set(secretKeysOf(c)),
    };
    const r = parseConfig(raw, { runningAsRoot: true });
    if (r.config === undefined) return r.issues.map(formatIssue);
    return checkContextDirs(r.config, process.cwd()).map(formatIssue);
}

function unwrap(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(unwrap);
    if (typeof v === "object" && v !== null) {
        const o = v as Record<string, unknown>;
        if (isSecretValue(o)) return unwrap(o.value);
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrap(x)]));
    }
    return v;
}
/** Every string in a value, keys included. */
function strings(v: unknown, out: string[] = []): string[] {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach((x) => strings(x, out));
    else if (typeof v === "object" && v !== null) {
        for (const [k, x] of Object.entries(v)) {
            out.push(k);
            strings(x, out);
        }
    }
    return out;
}

/** Inputs that are programs or file contents: run or parsed, never read as plain strings. */
const EXECUTED = new Set(["create", "delete", "script", "checkScript", "removeScript", "content"]);

interface Artifacts {
    /** Scripts to run: resource name + key → [argv, stdin]. */
    readonly runs: Map<string, [string[], string]>;
    /** Strings read as data: manifests, connections, parsed files. */
    readonly data: string[];
}

function artifacts(recorded: readonly RecordedWithDeps[]): Artifacts {
    const runs = new Map<string, [string[], string]>();
    const data: string[] = [];
    for (const r of recorded) {
        const inputs = unwrap(r.inputs) as Record<string, unknown>;
        for (const [k, v] of Object.entries(inputs)) {
            if (!EXECUTED.has(k)) {
                if (r.type === "kubernetes:batch/v1:Job") continue;
                strings(v, data);
                continue;
            }
            if (typeof v !== "string") continue;
            if (k === "content") {
                const path = String(inputs.path);
                data.push(v);
                if (path.endsWith(".toml")) strings(parseToml(v), data);
                else if (path.endsWith(".yaml")) strings(parseYaml(v), data);
                continue;
            }
            // Every script reaches bash on stdin (a step's create and delete, a host build's scripts), a host
            // build's with the context tar and the calls after it, as its provider sends it.
            if (v === "") continue;
            const body = k === "script" ? buildScript(v, tarEntries(contextEntries(inputs))) : v;
            runs.set(`${r.name}.${k}`, [["bash", "-s"], body]);
        }
        if (r.type === "kubernetes:batch/v1:Job") {
            const spec = (inputs.spec as { template: { spec: { containers: { command: string[] }[] } } }).template.spec;
            const command = spec.containers[0].command;
            runs.set(`${r.name}.command`, [["sh", ...command.slice(1)], ""]);
            const rest = structuredClone(inputs) as { spec: { template: { spec: { containers: { command?: string[] }[] } } } };
            delete rest.spec.template.spec.containers[0].command;
            strings(rest, data);
        }
        if (r.type === "kubernetes:core/v1:ConfigMap") {
            for (const [name, text] of Object.entries((inputs.data ?? {}) as Record<string, string>)) {
                if (name.endsWith(".toml")) strings(parseToml(text), data);
            }
        }
    }
    return { runs, data };
}

/** What a key's value becomes where it is consumed, when that is not the value itself. */
const SINK: Record<string, (v: string) => string> = {
    // A local file: Pulumi reads it; the host gets it under its base name in /var/tmp.
    "k3s.airgap.imagesPath": (v) => airgapStagingPath(v),
};

/** A value marked for key number `n` so that several keys can share one evaluation: the tag sits in the middle, both ends stay hostile. */
const tagged = (v: string, n: number) => `${v.slice(0, Math.floor(v.length / 2))}Q${n}Q${v.slice(Math.floor(v.length / 2))}`;

/**
 * A script with its restart stamp left out: the stamp is a sha256 of the restart triggers (hex only, so no
 * value can arrive in it), and nearly every value changes it; the rest of the script decides whether the
 * value reached it.
 */
const withoutStamp = (script: string) => script.replace(/^export K3S_RESTART_STAMP='[0-9a-f]{64}'$/m, "export K3S_RESTART_STAMP=<stamp>");

/** Evaluates `config` and returns every string the consumers saw, and whether a hostile value ran. */
async function consume(config: Config, baseline: Artifacts): Promise<{ seen: string[]; ran: boolean }> {
    const { recorded } = await runPlatform(config, secretKeysOf(config));
    const got = artifacts(recorded);
    const seen: string[] = [...got.data];
    for (const [name, [argv, input]] of got.runs) {
        const before = baseline.runs.get(name);
        if (before !== undefined && before[0].join("\0") === argv.join("\0") && withoutStamp(before[1]) === withoutStamp(input)) continue;
        const r = sandbox.run(argv, input);
        for (const c of r.calls) seen.push(...c.args);
        seen.push(...Object.values(r.env));
    }
    const ran = sandbox.markerExists();
    if (ran) for (const f of ["pwned", "out"]) rmSync(join(sandbox.dir, f), { recursive: true, force: true });
    return { seen, ran };
}

interface Row {
    rejected: number;
    intact: number;
    /** Accepted values of keys that only feed a hash (they reach no script, file or manifest). */
    hashed: number;
    failures: string[];
}

/** Keys whose value only feeds the build's content hash (the Job name): found nowhere else, by design. */
const HASHED_ONLY = new Set(["builds[].trigger"]);

describe("fuzz: every key × hostile values is rejected with its key or arrives intact", () => {
    const all = targets();
    const rows = new Map<string, Row>(all.map((t) => [t.key, { rejected: 0, intact: 0, hashed: 0, failures: [] }]));
    const baselines = new Map<string, Artifacts>();
    /** Accepted (key, value) pairs, to be proven intact. */
    const accepted: { t: Target; n: number; label: string; hostile: string }[] = [];

    it(`base configs are valid (${all.length} keys × ${HOSTILE.length} values)`, async () => {
        assert.ok(all.length >= 100, `${all.length} keys`);
        for (const b of Object.keys(BASES) as (keyof typeof BASES)[]) {
            const c = BASES[b]();
            assert.deepEqual(issuesOf(c), [], `base ${b} is valid`);
            baselines.set(b, artifacts((await runPlatform(c, secretKeysOf(c))).recorded));
        }
    });

    it("every rejected value is rejected with its key's path, and the program then registers 0 resources", async () => {
        for (const [n, t] of all.entries()) {
            const row = rows.get(t.key)!;
            let checkedZero = false;
            for (const [label, hostile] of HOSTILE) {
                const config = apply(t, wrap(t.key, hostile));
                const issues = issuesOf(config);
                if (issues.length === 0) {
                    accepted.push({ t, n, label, hostile });
                    continue;
                }
                if (!issues.some((i) => t.prefixes.some((p) => i.startsWith(p)))) {
                    row.failures.push(`${label}: rejected, but not with ${t.prefixes.join(" or ")}: ${issues[0].slice(0, 200)}`);
                    continue;
                }
                row.rejected++;
                if (!checkedZero) {
                    checkedZero = true;
                    const r = await tryProgram(config, secretKeysOf(config), false, true);
                    if (r.error?.name !== "ConfigError" || r.recorded.length > 0) {
                        row.failures.push(
                            `${label}: rejected, but the program registered ${r.recorded.length} resources (${String(r.error)})`,
                        );
                    }
                }
            }
        }
        const failed = [...rows].flatMap(([k, r]) => r.failures.map((f) => `${k}: ${f}`));
        assert.deepEqual(failed, []);
    });

    it("every accepted value arrives intact where it is consumed, and no hostile value runs", async () => {
        const check = (t: Target, value: string, label: string, seen: string[]) => {
            const row = rows.get(t.key)!;
            const expected = (SINK[t.key] ?? ((v: string) => v))(value);
            const found = seen.some((s) => s.includes(expected));
            if (HASHED_ONLY.has(t.key)) {
                if (found) row.failures.push(`${label}: a hash-only value reached a script or manifest`);
                else row.hashed++;
            } else if (!found) row.failures.push(`${label}: accepted, but found nowhere intact`);
            else row.intact++;
        };
        const alone = async (a: (typeof accepted)[number]) => {
            const value = wrap(a.t.key, a.hostile);
            const { seen, ran } = await consume(apply(a.t, value), baselines.get(a.t.base)!);
            if (ran) rows.get(a.t.key)!.failures.push(`${a.label}: a hostile value ran (marker file created)`);
            else check(a.t, value, a.label, seen);
        };
        // One evaluation per (hostile value, base) with every accepted key set at once, each value tagged
        // with its key's number; a batch that is invalid as a whole, or where something ran, goes key by key.
        for (const [label] of HOSTILE) {
            for (const base of Object.keys(BASES) as (keyof typeof BASES)[]) {
                const group = accepted.filter((a) => a.label === label && a.t.base === base && a.t.key !== "registryPasswords{key}");
                if (group.length === 0) continue;
                let config = BASES[base]();
                for (const a of group) config = apply(a.t, wrap(a.t.key, tagged(a.hostile, a.n)), config);
                if (issuesOf(config).length > 0) {
                    for (const a of group) await alone(a);
                    continue;
                }
                const { seen, ran } = await consume(config, baselines.get(base)!);
                if (ran) for (const a of group) await alone(a);
                else for (const a of group) check(a.t, wrap(a.t.key, tagged(a.hostile, a.n)), label, seen);
            }
        }
        for (const a of accepted.filter((x) => x.t.key === "registryPasswords{key}")) await alone(a);
        const failed = [...rows].flatMap(([k, r]) => r.failures.map((f) => `${k}: ${f}`));
        assert.deepEqual(failed, []);
    });

    it("prints the table", (ctx) => {
        let rejected = 0;
        let intact = 0;
        let hashed = 0;
        ctx.diagnostic(`values: ${HOSTILE.map(([label]) => label).join(" | ")}`);
        for (const [key, r] of rows) {
            const extra = r.hashed > 0 ? `  accepted-hashed ${r.hashed}` : "";
            ctx.diagnostic(
                `${key.padEnd(44)} rejected ${String(r.rejected).padStart(2)}  accepted-intact ${String(r.intact).padStart(2)}${extra}`,
            );
            rejected += r.rejected;
            intact += r.intact;
            hashed += r.hashed;
        }
        ctx.diagnostic(
            `total: ${rows.size} keys × ${HOSTILE.length} values = ${rows.size * HOSTILE.length} cases: rejected ${rejected}, accepted-intact ${intact}, accepted-hashed ${hashed}`,
        );
        assert.equal(rejected + intact + hashed, rows.size * HOSTILE.length);
    });
});
