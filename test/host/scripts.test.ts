/**
 * The install scripts, run for real by bash in a scratch root, downloading from a local mirror on
 * 127.0.0.1 (test/fixtures/artifacts.ts; k3s, BuildKit and nerdctl binaries are fixtures):
 * a second run changes nothing, a checksum mismatch stops before anything is installed, uninstall
 * removes what install added. Every script passes shellcheck.
 */
import assert from "node:assert/strict";
import { readEnvFile } from "../harness/systemd";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { hostScript, SCRIPT_NAMES } from "../../components/host/scripts";
import type { ScriptParam } from "../../components/host/shell";
import { type Mirror, startMirror, VERSIONS } from "../fixtures/artifacts";

let mirror: Mirror;
let root: string;
before(async () => {
    mirror = await startMirror();
});
after(async () => {
    await mirror?.close();
});
beforeEach(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
    root = mkdtempSync(join(tmpdir(), "k3sbk-root-"));
});

/** Runs a script with bash, asynchronously: the mirror serves from this same process. */
function run(
    name: Parameters<typeof hostScript>[0],
    params: Record<string, ScriptParam>,
): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn("bash", ["-s"], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
        child.stdin.end(hostScript(name, { ROOT: root, ...params }));
    });
}

/** Every file under the scratch root: path → mode, checksum and mtime (a rewrite changes the mtime). */
function snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
            const p = join(dir, name);
            const st = lstatSync(p);
            if (st.isDirectory()) walk(p);
            else if (st.isSymbolicLink()) out[p.slice(root.length)] = `-> ${readlinkSync(p)}`;
            else
                out[p.slice(root.length)] =
                    `${(st.mode & 0o7777).toString(8)} ${createHash("sha256").update(readFileSync(p)).digest("hex")} ${st.mtimeMs}`;
        }
    };
    walk(root);
    return out;
}

const k3sParams = (over: Record<string, ScriptParam> = {}): Record<string, ScriptParam> => ({
    ARCH: "amd64",
    K3S_VERSION: VERSIONS.k3s,
    K3S_BINARY_BASE_URL: mirror.k3sBaseUrl,
    K3S_BINARY_LAYOUT: "github",
    K3S_INSTALL_SCRIPT_URL: mirror.installScriptUrl,
    K3S_ROLE: "server",
    K3S_SERVER_URL: "",
    K3S_DATA_DIR: "/data/k3s",
    K3S_BINARY_SHA256: "",
    K3S_AIRGAP_IMAGES_URL: "",
    K3S_AIRGAP_IMAGES_PATH: "",
    ...over,
});
const buildkitParams = (over: Record<string, ScriptParam> = {}): Record<string, ScriptParam> => ({
    BUILDKIT_VERSION: VERSIONS.buildkit,
    BUILDKIT_BASE_URL: mirror.buildkitBaseUrl,
    ARCH: "amd64",
    BUILDKIT_SHA256: "",
    ...over,
});
const nerdctlParams = (): Record<string, ScriptParam> => ({
    NERDCTL_VERSION: VERSIONS.nerdctl,
    NERDCTL_BASE_URL: mirror.nerdctlBaseUrl,
    ARCH: "amd64",
});

describe("k3s install script", () => {
    it("installs the verified binary and the unit, then a second run changes nothing and downloads nothing", async () => {
        const first = await run("k3s-install", k3sParams());
        assert.equal(first.code, 0, first.stderr);
        assert.match(first.stdout, new RegExp(`^k3s_sha256=${mirror.k3sSha256}\nk3s_unit_sha256=[0-9a-f]{64}\n$`));
        const files = snapshot();
        assert.deepEqual(Object.keys(files).sort(), [
            "/etc/systemd/system/k3s.service",
            "/etc/systemd/system/k3s.service.env",
            "/etc/systemd/system/multi-user.target.wants/k3s.service",
            "/usr/local/bin/k3s",
            "/usr/local/bin/k3s-killall.sh",
            "/usr/local/bin/k3s-uninstall.sh",
            "/var/lib/k3s-buildkit/k3s.created-dirs",
            "/var/lib/k3s-buildkit/k3s.installed",
        ]);
        assert.match(files["/usr/local/bin/k3s"], new RegExp(`^755 ${mirror.k3sSha256} `));
        // Enabled again right after the installer (which disables it), by the same step.
        assert.equal(files["/etc/systemd/system/multi-user.target.wants/k3s.service"], "-> /etc/systemd/system/k3s.service");
        // The .env as systemd reads it: only what k3s reads, nothing of the step's own parameters.
        assert.deepEqual(readEnvFile(readFileSync(join(root, "etc/systemd/system/k3s.service.env"), "utf8")), {
            K3S_DATA_DIR: "/data/k3s",
        });
        const requests = mirror.requests.length;
        const second = await run("k3s-install", k3sParams());
        assert.equal(second.code, 0, second.stderr);
        assert.deepEqual(snapshot(), files);
        assert.deepEqual(
            mirror.requests.slice(requests),
            [`/k3s/${VERSIONS.k3s}/sha256sum-amd64.txt`],
            "only the checksum file is fetched again",
        );
    });

    it("an agent gets k3s-agent.service, enabled; its server and token stay in config.yaml, out of the .env", async () => {
        const r = await run("k3s-install", k3sParams({ K3S_ROLE: "agent", K3S_SERVER_URL: "https://10.0.0.5:6443" }));
        assert.equal(r.code, 0, r.stderr);
        assert.match(readFileSync(join(root, "etc/systemd/system/k3s-agent.service"), "utf8"), /^ExecStart=.*\/k3s agent$/m);
        assert.equal(
            readlinkSync(join(root, "etc/systemd/system/multi-user.target.wants/k3s-agent.service")),
            "/etc/systemd/system/k3s-agent.service",
        );
        assert.deepEqual(readEnvFile(readFileSync(join(root, "etc/systemd/system/k3s-agent.service.env"), "utf8")), {
            K3S_DATA_DIR: "/data/k3s",
        });
    });

    it("a role change is refused before anything changes: never two k3s units on one host", async () => {
        assert.equal((await run("k3s-install", k3sParams())).code, 0);
        const before = snapshot();
        const r = await run("k3s-install", k3sParams({ K3S_ROLE: "agent", K3S_SERVER_URL: "https://10.0.0.5:6443" }));
        assert.equal(r.code, 1);
        assert.match(
            r.stderr,
            /already runs k3s as a server \(k3s\.service\), and its role in stack config \(hosts\[\]\.role\) is now agent\. k3s cannot change roles in place: remove the host from hosts and run pulumi up \(that uninstalls it\), then add it back with role: agent\. Nothing was changed\./,
        );
        assert.deepEqual(snapshot(), before);
    });

    it("installs from a mirror in the China layout (rancher-mirror.rancher.cn: the version directory with + as -)", async () => {
        const before = mirror.requests.length;
        const r = await run(
            "k3s-install",
            k3sParams({ K3S_BINARY_BASE_URL: `${mirror.url}/china/k3s`, K3S_BINARY_LAYOUT: "china-mirror" }),
        );
        assert.equal(r.code, 0, r.stderr);
        const cn = VERSIONS.k3s.replace("+", "-");
        assert.deepEqual(mirror.requests.slice(before, before + 2), [`/china/k3s/${cn}/sha256sum-amd64.txt`, `/china/k3s/${cn}/k3s`]);
        const github = await run("k3s-install", k3sParams({ K3S_BINARY_BASE_URL: `${mirror.url}/china/k3s` }));
        assert.notEqual(github.code, 0, "the GitHub layout finds nothing there");
        assert.match(github.stderr, new RegExp(`download failed: .*/china/k3s/${VERSIONS.k3s.replace("+", "\\+")}/sha256sum-amd64\\.txt`));
    });

    it("mirror credentials in download URLs never reach the installer's .env or k3s's environment", async () => {
        const withCreds = (u: string) => u.replace("http://", "http://user:s3cret@");
        const r = await run(
            "k3s-install",
            k3sParams({ K3S_BINARY_BASE_URL: withCreds(mirror.k3sBaseUrl), K3S_INSTALL_SCRIPT_URL: withCreds(mirror.installScriptUrl) }),
        );
        assert.equal(r.code, 0, r.stderr);
        const env = readFileSync(join(root, "etc/systemd/system/k3s.service.env"), "utf8");
        assert.ok(!env.includes("s3cret"), env);
        assert.deepEqual(Object.keys(readEnvFile(env)), ["K3S_DATA_DIR"]);
    });

    it("a checksum mismatch stops before anything is installed", async () => {
        const good = readFileSync(join(mirror.dir, `k3s/${VERSIONS.k3s}/sha256sum-amd64.txt`), "utf8");
        mirror.put(`k3s/${VERSIONS.k3s}/sha256sum-amd64.txt`, `${"e".repeat(64)}  k3s\n`);
        try {
            const r = await run("k3s-install", k3sParams());
            assert.notEqual(r.code, 0);
            assert.equal(
                r.stderr.trim(),
                `k3s-buildkit: checksum mismatch for k3s ${VERSIONS.k3s} (amd64): expected ${"e".repeat(64)}, got ${mirror.k3sSha256}; nothing was installed`,
            );
            assert.deepEqual(snapshot(), {});
        } finally {
            mirror.put(`k3s/${VERSIONS.k3s}/sha256sum-amd64.txt`, good);
        }
    });

    it("a pinned sha256 is used instead of the release's file", async () => {
        const r = await run("k3s-install", k3sParams({ K3S_BINARY_SHA256: "f".repeat(64) }));
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /checksum mismatch for k3s .*: expected f{64}/);
    });

    it("air-gap images from a local path land in <data-dir>/agent/images", async () => {
        const images = join(root, "images.tar.zst");
        execFileSync("sh", ["-c", `printf images > ${images}`]);
        const r = await run("k3s-install", k3sParams({ K3S_AIRGAP_IMAGES_PATH: images }));
        assert.equal(r.code, 0, r.stderr);
        assert.equal(readFileSync(join(root, "data/k3s/agent/images/images.tar.zst"), "utf8"), "images");
    });

    it("uninstall removes what install added (the unit, scripts, binary, state), honouring K3S_DATA_DIR", async () => {
        assert.equal((await run("k3s-install", k3sParams())).code, 0);
        execFileSync("mkdir", ["-p", join(root, "data/k3s/server")]);
        const r = await run("k3s-uninstall", { K3S_ROLE: "server", K3S_DATA_DIR: "/data/k3s" });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(snapshot(), {});
        assert.equal(existsSync(join(root, "data/k3s")), false);
        assert.equal((await run("k3s-uninstall", { K3S_ROLE: "server", K3S_DATA_DIR: "/data/k3s" })).code, 0, "uninstall twice is fine");
    });
});

describe("BuildKit install script", () => {
    it("installs the binaries, prints the tarball checksum, and a second run changes nothing and downloads nothing", async () => {
        const first = await run("buildkit-install", buildkitParams());
        assert.equal(first.code, 0, first.stderr);
        assert.equal(first.stdout, `buildkit_sha256=${mirror.buildkitSha256}\n`);
        const files = snapshot();
        // Every binary of the tarball (the fixture's carries two helpers of its buildctl, as real ones carry runc and qemu helpers).
        assert.deepEqual(Object.keys(files).sort(), [
            "/usr/local/bin/buildctl",
            "/usr/local/bin/buildctl-fixture-push",
            "/usr/local/bin/buildctl-fixture-sync",
            "/usr/local/bin/buildkitd",
            "/var/lib/k3s-buildkit/buildkit.files",
            "/var/lib/k3s-buildkit/buildkit.installed",
        ]);
        const requests = mirror.requests.length;
        const second = await run("buildkit-install", buildkitParams({ BUILDKIT_SHA256: mirror.buildkitSha256 }));
        assert.equal(second.code, 0, second.stderr);
        assert.equal(second.stdout, first.stdout);
        assert.deepEqual(snapshot(), files);
        assert.equal(mirror.requests.length, requests);
    });

    it("a checksum mismatch (pinned or first-seen) stops before anything is installed", async () => {
        const r = await run("buildkit-install", buildkitParams({ BUILDKIT_SHA256: "0".repeat(64) }));
        assert.notEqual(r.code, 0);
        assert.match(
            r.stderr,
            new RegExp(
                `^k3s-buildkit: checksum mismatch for buildkit-${VERSIONS.buildkit}\\.linux-amd64\\.tar\\.gz: expected 0{64}, got ${mirror.buildkitSha256}; nothing was installed$`,
                "m",
            ),
        );
        assert.deepEqual(snapshot(), {});
    });

    it("a missing binary is reinstalled", async () => {
        assert.equal((await run("buildkit-install", buildkitParams())).code, 0);
        rmSync(join(root, "usr/local/bin/buildctl"));
        assert.equal((await run("buildkit-install", buildkitParams())).code, 0);
        assert.ok(existsSync(join(root, "usr/local/bin/buildctl")));
    });

    it("uninstall removes exactly the installed binaries and keeps others", async () => {
        assert.equal((await run("buildkit-install", buildkitParams())).code, 0);
        execFileSync("sh", ["-c", `printf x > ${join(root, "usr/local/bin/other-tool")}`]);
        assert.equal((await run("buildkit-uninstall", {})).code, 0);
        assert.deepEqual(Object.keys(snapshot()), ["/usr/local/bin/other-tool"]);
    });

    it("a failed download leaves nothing behind", async () => {
        const r = await run("buildkit-install", buildkitParams({ BUILDKIT_VERSION: "v9.9.9" }));
        assert.notEqual(r.code, 0);
        assert.match(
            r.stderr,
            /k3s-buildkit: download failed: http:\/\/127\.0\.0\.1:\d+\/buildkit\/v9\.9\.9\/buildkit-v9\.9\.9\.linux-amd64\.tar\.gz/,
        );
        assert.deepEqual(snapshot(), {});
    });
});

describe("nerdctl install script", () => {
    it("installs nerdctl verified against SHA256SUMS; a second run changes nothing", async () => {
        const first = await run("nerdctl-install", nerdctlParams());
        assert.equal(first.code, 0, first.stderr);
        const files = snapshot();
        assert.deepEqual(Object.keys(files).sort(), ["/usr/local/bin/nerdctl", "/var/lib/k3s-buildkit/nerdctl.installed"]);
        assert.deepEqual(await run("nerdctl-install", nerdctlParams()), first);
        assert.deepEqual(snapshot(), files);
    });

    it("a checksum mismatch stops before anything is installed", async () => {
        const sums = `nerdctl/v${VERSIONS.nerdctl}/SHA256SUMS`;
        const good = readFileSync(join(mirror.dir, sums), "utf8");
        mirror.put(sums, `${"9".repeat(64)}  nerdctl-${VERSIONS.nerdctl}-linux-amd64.tar.gz\n`);
        try {
            const r = await run("nerdctl-install", nerdctlParams());
            assert.notEqual(r.code, 0);
            assert.match(r.stderr, /checksum mismatch for nerdctl-.*-linux-amd64\.tar\.gz: expected 9{64}/);
            assert.deepEqual(snapshot(), {});
        } finally {
            mirror.put(sums, good);
        }
    });

    it("uninstall removes it", async () => {
        assert.equal((await run("nerdctl-install", nerdctlParams())).code, 0);
        assert.equal((await run("nerdctl-uninstall", {})).code, 0);
        assert.deepEqual(snapshot(), {});
    });
});

describe("every host script passes shellcheck", () => {
    for (const name of SCRIPT_NAMES) {
        it(name, () => {
            const r = spawnSync("shellcheck", ["--shell=bash", "--severity=style", "-"], {
                input: `#!/usr/bin/env bash\n${hostScript(name, { ROOT: "" })}`,
                encoding: "utf8",
            });
            assert.equal(r.stdout, "");
            assert.equal(r.status, 0);
        });
    }
});
