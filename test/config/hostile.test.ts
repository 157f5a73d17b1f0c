/**
 * Hostile and malformed config (issue 12): each finding of the attack on the config, one test each, with
 * the exact message. The table-driven fuzz over every key is in ./fuzz.test.ts.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isIgnored, parseDockerignore } from "../../components/builds/context";
import { kubeAccess } from "../../components/builds/kube-client";
import { argvParams, secretEnvName } from "../../components/host/host-image-build";
import { parseConfig, plainSecretLeaves, type RawConfig } from "../../components/config";
import { rewriteKubeconfig } from "../../components/host/kubeconfig";
import { hostScript } from "../../components/host/scripts";
import { readExportLines } from "../../components/render/shell";
import { formatIssue } from "../../components/config/schema";
import { FAKE_SSH_KEY as KEY, isSecretValue, runPlatform, tryProgram } from "../../tools/evaluate";

const base = { hosts: [{ name: "s1", address: "10.0.0.5" }], sshPrivateKey: KEY };
const local = { hosts: [{ name: "local", connection: "local" }], cluster: { enabled: false } };

function raw(values: Record<string, unknown>, secretKeys: string[] = ["sshPrivateKey"]): RawConfig {
    return {
        values: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
        secretKeys: new Set(secretKeys),
    };
}
const problems = (values: Record<string, unknown>, secretKeys?: string[]) =>
    parseConfig(raw(values, secretKeys), { runningAsRoot: true }).issues.map(formatIssue);

const hostBuild = (over: Record<string, unknown>) => ({
    ...local,
    hostBuilds: [{ name: "app", context: { files: { Dockerfile: "FROM scratch\n" } }, tags: ["app:1"], ...over }],
});

describe("1. NUL and control characters never reach a host script", () => {
    it("a NUL in a host build's build-arg value, build-arg name or git URL is refused with its key", () => {
        assert.deepEqual(problems(hostBuild({ buildArgs: { A: "x\u0000--output\u0000type=local,dest=/tmp/X" } })), [
            "hostBuilds[0].buildArgs.A: must not contain control characters (U+0000 at character 2); only tab, newline and carriage return may appear",
        ]);
        assert.deepEqual(problems(hostBuild({ buildArgs: { "A\u0000B": "x" } })), [
            'hostBuilds[0].buildArgs["A\\u0000B"]: key must not contain control characters (U+0000 at character 2)',
        ]);
        assert.deepEqual(problems(hostBuild({ context: { git: "https://git.example.com/r.git\u0000--output" } })), [
            "hostBuilds[0].context.git: must not contain control characters (U+0000 at character 30); write it on one line",
        ]);
    });

    it("buildctl's argv reaches the host one quoted variable per argument: a hostile value is exactly one argument", () => {
        const dir = mkdtempSync(join(tmpdir(), "argv-"));
        try {
            mkdirSync(join(dir, "bin"));
            writeFileSync(join(dir, "bin", "buildctl"), `#!/bin/bash\nprintf '%s\\0' "$@" > "${dir}/argv"\n`, { mode: 0o755 });
            const hostile = ["x\n--output\ntype=local,dest=/tmp/X", "it's $(touch /tmp/pwned) `id`", "a\tb", "", "--opt=-"];
            const argv = [
                "build",
                ...hostile.flatMap((v) => ["--opt", `build-arg:A=${v}`]),
                "--metadata-file",
                `${dir}/work/metadata.json`,
            ];
            const script = `${hostScript("host-build", { BUILD_DIR: `${dir}/work`, ...argvParams(argv), DOCKERFILE_B64: "" })}mkdir -p "$BUILD_DIR"; echo '{}' > "$BUILD_DIR/metadata.json"\nrun_build\n`;
            // The build then stops (the stub writes no digest); what matters is what buildctl was given.
            spawnSync("bash", ["-s"], { input: script, env: { PATH: `${dir}/bin:/usr/bin:/bin` }, stdio: ["pipe", "pipe", "pipe"] });
            const got = execFileSync("cat", [`${dir}/argv`], { encoding: "utf8" })
                .split("\0")
                .slice(0, -1);
            assert.deepEqual(got, argv);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("2. bad download URLs register nothing", () => {
    for (const key of ["buildkit.downloadBaseUrl", "k3s.binaryBaseUrl", "k3s.installScriptUrl", "nerdctl.downloadBaseUrl"]) {
        it(`a NUL in ${key} is a config error naming the key, and 0 resources are registered`, async () => {
            const [section, field] = key.split(".");
            const { recorded, error } = await tryProgram({ ...local, [section]: { [field]: "https://mirror.example.com/x\u0000y" } });
            assert.equal(error?.name, "ConfigError");
            assert.match(
                error?.message ?? "",
                new RegExp(`  - ${key.replace(".", "\\.")}: must not contain control characters \\(U\\+0000`),
            );
            assert.deepEqual(recorded, []);
        });
    }
});

describe("4. secrets are checked leaf by leaf", () => {
    it("a plain-text password beside a secure one in the stack file is refused with its path", () => {
        const text = [
            "config:",
            "  k3s-buildkit:registryPasswords:",
            '    a.example.com: { secure: "v1:abc" }',
            "    b.example.com: hunter2",
            "  k3s-buildkit:buildSecrets:",
            "    npm:",
            "      secure: v1:def",
            "    token: plain-token",
            "",
        ].join("\n");
        assert.deepEqual(plainSecretLeaves(text, "Pulumi.prod.yaml").map(formatIssue), [
            `registryPasswords["b.example.com"]: is stored in plain text in Pulumi.prod.yaml; every value of registryPasswords must be a secret: pulumi config set --secret --path 'registryPasswords["b.example.com"]' …`,
            "buildSecrets.token: is stored in plain text in Pulumi.prod.yaml; every value of buildSecrets must be a secret: pulumi config set --secret --path 'buildSecrets.token' …",
        ]);
        assert.ok(
            !plainSecretLeaves(text, "Pulumi.prod.yaml").some((i) => i.message.includes("hunter2") || i.message.includes("plain-token")),
        );
    });

    it("loadStackConfig reads the stack file and stops before any resource", async () => {
        const dir = mkdtempSync(join(tmpdir(), "stack-"));
        const cwd = process.cwd();
        try {
            writeFileSync(
                join(dir, "Pulumi.test.yaml"),
                'config:\n  k3s-buildkit:registryPasswords:\n    a.example.com: { secure: "v1:x" }\n    b.example.com: plain\n',
            );
            process.chdir(dir);
            const { error, recorded } = await tryProgram(
                {
                    ...local,
                    registries: { "a.example.com": { username: "u" }, "b.example.com": { username: "u" } },
                    registryPasswords: { "a.example.com": "x", "b.example.com": "plain" },
                },
                ["registryPasswords"],
            );
            assert.deepEqual(recorded, []);
            assert.match(error?.message ?? "", /registryPasswords\["b\.example\.com"\]: is stored in plain text in Pulumi\.test\.yaml/);
        } finally {
            process.chdir(cwd);
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("5. build secret ids map to distinct variables", () => {
    it("a.b and a-b get different environment variables, each with its own value", async () => {
        assert.notEqual(secretEnvName("a.b"), secretEnvName("a-b"));
        assert.equal(secretEnvName("a.b"), "K3S_BUILDKIT_SECRET_612e62");
        const { recorded } = await runPlatform(
            { ...hostBuild({ secrets: ["a.b", "a-b"] }), buildSecrets: { "a.b": "value-one", "a-b": "value-two" } },
            ["buildSecrets"],
        );
        const script = recorded.find((r) => r.name === "app-build")?.inputs.script;
        assert.ok(isSecretValue(script));
        const params = readExportLines(String((script as { value: string }).value));
        assert.equal(params[secretEnvName("a.b")], "value-one");
        assert.equal(params[secretEnvName("a-b")], "value-two");
    });
});

describe("6. secrets never appear in error text", () => {
    const broken = "apiVersion: v1\nusers:\n- name: x\n  user:\n    token: SECRET-TOKEN-123: [\n";
    it("a malformed kubeconfig's parse error names the line, not the text", () => {
        assert.throws(
            () => rewriteKubeconfig(broken, "10.0.0.5"),
            (e: Error) => {
                assert.match(
                    e.message,
                    /^the k3s kubeconfig is not valid YAML \(line \d+, column \d+\); its text is not shown because it holds credentials$/,
                );
                return true;
            },
        );
        assert.throws(
            () => kubeAccess(broken),
            (e: Error) => !e.message.includes("SECRET-TOKEN") && /not valid YAML/.test(e.message),
        );
    });

    it("a secret of the wrong type is described by its type only", () => {
        // Top-level values reach the program as strings; nested ones keep their YAML type.
        assert.deepEqual(problems({ ...local, buildSecrets: { npm: 987654321 } }, ["buildSecrets"]), [
            "buildSecrets.npm: expected a string, got a number",
        ]);
    });
});

describe("7. destructive paths are refused", () => {
    const why = "destroy runs k3s's uninstall, which deletes the data directory and everything in it";
    for (const dir of ["/", "/etc", "/usr", "/usr/local/k3s", "/var/lib", "/home"]) {
        it(`k3s.dataDir ${dir}`, () => {
            assert.deepEqual(problems({ ...base, k3s: { dataDir: dir } }), [
                `k3s.dataDir: ${JSON.stringify(dir)} is a system directory (${why}); use a directory of its own, like /data/k3s`,
            ]);
        });
    }
    it("'..', '.', doubled and trailing slashes", () => {
        for (const dir of ["/data/k3s/../../etc", "/data/./k3s", "/data//k3s", "/data/k3s/"]) {
            assert.deepEqual(problems({ ...base, k3s: { dataDir: dir } }), [
                `k3s.dataDir: must be a normalized absolute path (no "." or ".." segments, no doubled or trailing "/"), like /data/k3s; got ${JSON.stringify(dir)}`,
            ]);
        }
    });
    it("buildkit.root under /etc; air-gap imagesPath with '..'", () => {
        assert.deepEqual(problems({ ...base, buildkit: { root: "/etc/buildkit" } }), [
            'buildkit.root: "/etc/buildkit" is a system directory (BuildKit fills it with its state and garbage-collects it); use a directory of its own, like /data/k3s',
        ]);
        assert.match(
            problems({ ...base, k3s: { airgap: { imagesPath: "/srv/../etc/shadow" } } })[0],
            /^k3s\.airgap\.imagesPath: must be a normalized/,
        );
    });
    it("directories of our own pass", () => {
        assert.deepEqual(problems({ ...base, k3s: { dataDir: "/var/lib/rancher/k3s" }, buildkit: { root: "/srv/buildkit" } }), []);
    });
});

describe("8. the smaller findings", () => {
    it("a build-arg name with '=' is refused; an empty build-arg value is accepted", () => {
        assert.deepEqual(problems(hostBuild({ buildArgs: { "A=B": "x" } })), [
            `hostBuilds[0].buildArgs["A=B"]: key must be a build-arg name: a letter or '_', then letters, digits, '_', '.' or '-' (no '='), like HTTP_PROXY`,
        ]);
        assert.deepEqual(problems(hostBuild({ buildArgs: { EMPTY: "" } })), []);
    });

    it("__proto__ is refused as a key; constructor is a key like any other and is checked", () => {
        // JSON.parse makes __proto__ an own key, as YAML config does.
        const values = { ...local, registryPasswords: JSON.parse('{"__proto__": "x"}') as Record<string, string> };
        assert.deepEqual(problems(values, ["registryPasswords"]), [
            'registryPasswords.__proto__: key "__proto__" is reserved; choose another name',
        ]);
        assert.deepEqual(problems({ ...local, registryPasswords: { constructor: "pw" } }, ["registryPasswords"]), [
            'registryPasswords["constructor"]: has no matching registries["constructor"].username; add the user name there or remove this password',
        ]);
        assert.deepEqual(problems({ ...local, registries: { constructor: { username: "u" } } }), [
            `registries["constructor"].username: has no password; set it with: pulumi config set --secret --path 'registryPasswords["constructor"]' …`,
        ]);
    });

    it("addresses: '::::' and a 100 kB name are refused; IPv4, IPv6 and DNS names pass", () => {
        assert.deepEqual(problems({ ...base, hosts: [{ name: "s1", address: "::::" }] }), [
            'hosts[0].address: expected a DNS name or an IP address (like 10.0.0.5 or build-1.example.com); got "::::"',
        ]);
        assert.deepEqual(problems({ ...base, hosts: [{ name: "s1", address: "a".repeat(100_000) }] }), [
            "hosts[0].address: is 100000 characters long; at most 255 are allowed",
        ]);
        assert.deepEqual(problems({ ...base, hosts: [{ name: "s1", address: "999.1.1.1" }] }).length, 1);
        for (const ok of ["10.0.0.5", "fd00::5", "[fd00::5]", "build-1.example.com"]) {
            assert.deepEqual(problems({ ...base, hosts: [{ name: "s1", address: ok }] }), [], ok);
        }
    });

    it("a 140 kB build arg fails validation, not the kernel", () => {
        assert.deepEqual(problems(hostBuild({ buildArgs: { A: "x".repeat(140_000) } })), [
            "hostBuilds[0].buildArgs.A: is 140000 characters long; at most 32768 are allowed",
        ]);
    });

    it("an unknown 100 kB key is not echoed whole", () => {
        const [message] = problems({ ...base, k3s: { ["k".repeat(100_000)]: 1 } });
        assert.ok(message.length < 400, `${message.length} characters`);
        assert.match(message, /^k3s\["k{60}"… \(100000 characters\)\]: unknown key; known keys: /);
    });

    it("ids '.' and '..' and a registry named '..' are refused", () => {
        assert.match(
            problems({ ...local, buildSecrets: { "..": "x" } }, ["buildSecrets"])[0],
            /^buildSecrets\["\.\."\]: key must be a secret id/,
        );
        assert.match(problems(hostBuild({ secrets: ["."] }))[0], /^hostBuilds\[0\]\.secrets\[0\]: expected a secret id/);
        assert.match(problems({ ...local, registries: { "..": {} } })[0], /^registries\["\.\."\]: key must be a registry host/);
    });

    it("a host build's trigger and git token are honoured: the trigger changes the script, the token reaches buildctl as GIT_AUTH_TOKEN", async () => {
        const git = { git: "https://git.example.com/app.git", ref: "main", gitTokenSecret: "gh" };
        const run = async (trigger: string) => {
            const { recorded } = await runPlatform({ ...hostBuild({ context: git, trigger }), buildSecrets: { gh: "tok" } }, [
                "buildSecrets",
            ]);
            return String((recorded.find((r) => r.name === "app-build")?.inputs.script as { value: string }).value);
        };
        const one = await run("1");
        const two = await run("2");
        assert.notEqual(one, two);
        const p = readExportLines(one);
        assert.equal(p[secretEnvName("gh")], "tok");
        const argv = Array.from({ length: Number(p.BUILDCTL_ARGC) }, (_, i) => p[`BUILDCTL_ARG_${i}`]);
        assert.ok(argv.includes(`id=GIT_AUTH_TOKEN,env=${secretEnvName("gh")}`), argv.join(" "));
    });

    it("a .dockerignore line of eight '**/' and long paths cost milliseconds", () => {
        const patterns = parseDockerignore(`${"**/".repeat(8)}x\n${"*a".repeat(30)}b\n`);
        const path = `${"a/".repeat(200)}y`;
        const t0 = performance.now();
        for (let i = 0; i < 50; i++) isIgnored(patterns, path);
        assert.ok(performance.now() - t0 < 500, `${Math.round(performance.now() - t0)} ms for 50 paths`);
        assert.equal(isIgnored(patterns, "a/b/c/x"), true);
        assert.equal(isIgnored(patterns, `${"a".repeat(30)}b`), true);
    });
});

describe("git refs BuildKit can fetch", () => {
    const withRef = (ref: string) => hostBuild({ context: { git: "https://git.example.com/app.git", ref } });
    it("an abbreviated commit SHA is refused with the fix", () => {
        assert.deepEqual(problems(withRef("4f2a9c1e0b7d")), [
            'hostBuilds[0].context.ref: "4f2a9c1e0b7d" looks like an abbreviated commit SHA, which BuildKit cannot fetch ("repository does not contain ref"); use the full commit SHA (40 hex digits, git rev-parse 4f2a9c1e0b7d), or a branch or tag name',
        ]);
    });
    it("full SHAs (SHA-1 and SHA-256), branches and tags pass; malformed ref names do not", () => {
        for (const ok of ["4f2a9c1e0b7d3a5f6e8d9c0b1a2f3e4d5c6b7a89", "a".repeat(64), "main", "release/1.2", "v1.2.3", "feature/x_y-z"]) {
            assert.deepEqual(problems(withRef(ok)), [], ok);
        }
        for (const bad of ["-x", "a..b", "a//b", "a@{1}", "main/", "main.lock", "main.", "a:b", "a#b", "a b"]) {
            assert.match(problems(withRef(bad))[0] ?? "", /^hostBuilds\[0\]\.context\.ref: expected a branch or tag name/, bad);
        }
    });
});

describe("a host's connection names its shape, and nothing else", () => {
    it("connection: constructor, __proto__ or toString is refused like any other unknown shape (no crash)", () => {
        for (const connection of ["constructor", "__proto__", "toString"]) {
            const r = parseConfig(
                { values: { hosts: JSON.stringify([{ name: "h", connection, address: "10.0.0.5" }]) }, secretKeys: new Set() },
                { runningAsRoot: true },
            );
            assert.deepEqual(r.issues.map(formatIssue), [
                `hosts[0].connection: must be one of "ssh", "local"; got ${JSON.stringify(connection)}`,
            ]);
        }
    });
});
