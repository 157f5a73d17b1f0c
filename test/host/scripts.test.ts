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
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { hostScript, SCRIPT_NAMES } from "../../components/host/scripts";
import type { ScriptParam } from "../../components/render/shell";
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
    env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn("bash", ["-s"], { stdio: ["pipe", "pipe", "pipe"], env });
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

/** Of kubectl, crictl and ctr, those this machine does not have (the k3s installer links those to k3s). */
const missingCommands = () => ["kubectl", "crictl", "ctr"].filter((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0);

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
    BUILDKIT_ROOT: "/data/buildkit",
    ...over,
});
const nerdctlParams = (): Record<string, ScriptParam> => ({
    NERDCTL_VERSION: VERSIONS.nerdctl,
    NERDCTL_BASE_URL: mirror.nerdctlBaseUrl,
    ARCH: "amd64",
});

/**
 * A recording stand-in for `k3s kubectl` on a server, for the drain and ready steps: answers the node's
 * Ready status and kubelet version from $STUB/node, its cordon from $STUB/unschedulable, /readyz ok, and
 * records every call in $STUB/calls.
 */
function kubectlStub(): { env: NodeJS.ProcessEnv; dir: string; calls: () => string[] } {
    const dir = mkdtempSync(join(tmpdir(), "k3sbk-kubectl-"));
    writeFileSync(
        join(dir, "k3s"),
        `#!/bin/sh
printf '%s\\n' "$*" >> "$STUB/calls"
case "$*" in
  "kubectl get node n1") [ -f "$STUB/node" ] ;;
  "kubectl get node n1 -o jsonpath={.spec.unschedulable}") cat "$STUB/unschedulable" 2>/dev/null || true ;;
  "kubectl get node n1 -o jsonpath="*) [ -f "$STUB/node" ] && printf '%s' "$(cat "$STUB/node")" ;;
  "kubectl get --raw /readyz") echo ok ;;
  "kubectl drain n1 "*|"kubectl uncordon n1") echo "node/n1 done" ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
`,
        { mode: 0o755 },
    );
    return {
        env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ""}`, STUB: dir },
        dir,
        calls: () => (existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8").trim().split("\n") : []),
    };
}

describe("k3s drain and ready steps (a recording k3s kubectl)", () => {
    const NEXT = "v1.36.1+k3s1";
    it("ready: a node Ready at the old version fails after the bound, naming both versions", async () => {
        const k = kubectlStub();
        writeFileSync(join(k.dir, "node"), `True ${VERSIONS.k3s}`);
        const r = await run(
            "k3s-ready",
            { K3S_NODE: "n1", K3S_VERSION: NEXT, K3S_CHECK_READYZ: false, K3S_READY_TIMEOUT: 1, K3S_RESTART_STAMP: "s1" },
            k.env,
        );
        assert.equal(r.code, 1);
        assert.match(
            r.stderr,
            new RegExp(`node n1 is Ready at ${VERSIONS.k3s.replace("+", "\\+")}, not at the target ${NEXT.replace("+", "\\+")}`),
        );
        assert.ok(!k.calls().some((c) => c.includes("uncordon")), "not uncordoned");
    });

    it("ready at the target: /readyz asked (servers), the node uncordoned only if the drain cordoned it, the restart recorded", async () => {
        const k = kubectlStub();
        writeFileSync(join(k.dir, "node"), `True ${NEXT}`);
        const params = { K3S_NODE: "n1", K3S_VERSION: NEXT, K3S_CHECK_READYZ: true, K3S_READY_TIMEOUT: 10, K3S_RESTART_STAMP: "s1" };
        const first = await run("k3s-ready", params, k.env);
        assert.equal(first.code, 0, first.stderr);
        assert.match(first.stdout, new RegExp(`node n1 is Ready at ${NEXT.replace("+", "\\+")}`));
        assert.ok(k.calls().includes("kubectl get --raw /readyz"));
        assert.ok(!k.calls().some((c) => c.includes("uncordon")), "a node this program did not cordon stays as it is");
        assert.equal(readFileSync(join(root, "var/lib/k3s-buildkit/restarted-n1"), "utf8"), "s1\n");
        // The drain step cordons (and records it) only when a restart is pending: the stamp differs.
        const drain = { K3S_NODE: "n1", K3S_DRAIN: true, K3S_DRAIN_TIMEOUT: 30 };
        const same = await run("k3s-drain", { ...drain, K3S_RESTART_STAMP: "s1" }, k.env);
        assert.match(same.stdout, /no restart pending, nothing to drain/);
        assert.ok(!k.calls().some((c) => c.startsWith("kubectl drain")));
        const pending = await run("k3s-drain", { ...drain, K3S_RESTART_STAMP: "s2" }, k.env);
        assert.equal(pending.code, 0, pending.stderr);
        assert.ok(k.calls().includes("kubectl drain n1 --ignore-daemonsets --delete-emptydir-data --timeout=30s"));
        assert.ok(existsSync(join(root, "var/lib/k3s-buildkit/drained-n1")));
        const again = await run("k3s-ready", { ...params, K3S_RESTART_STAMP: "s2" }, k.env);
        assert.equal(again.code, 0, again.stderr);
        assert.ok(k.calls().includes("kubectl uncordon n1"));
        assert.ok(!existsSync(join(root, "var/lib/k3s-buildkit/drained-n1")));
    });

    it("a restart the triggers do not know of (empty stamp and version: a certificate rotation) drains even when the stamp matches, waits for Ready at any version, records nothing", async () => {
        const k = kubectlStub();
        writeFileSync(join(k.dir, "node"), `True ${NEXT}`);
        const ready = { K3S_NODE: "n1", K3S_VERSION: NEXT, K3S_CHECK_READYZ: true, K3S_READY_TIMEOUT: 10 };
        assert.equal((await run("k3s-ready", { ...ready, K3S_RESTART_STAMP: "s1" }, k.env)).code, 0);
        const drain = await run("k3s-drain", { K3S_NODE: "n1", K3S_DRAIN: true, K3S_DRAIN_TIMEOUT: 30, K3S_RESTART_STAMP: "" }, k.env);
        assert.equal(drain.code, 0, drain.stderr);
        assert.ok(
            k.calls().some((c) => c.startsWith("kubectl drain n1")),
            "drained",
        );
        const back = await run("k3s-ready", { ...ready, K3S_VERSION: "", K3S_RESTART_STAMP: "" }, k.env);
        assert.equal(back.code, 0, back.stderr);
        assert.ok(k.calls().includes("kubectl uncordon n1"), "uncordoned once Ready");
        // The restart the triggers recorded is still s1: a later drain for s1 alone drains nothing.
        assert.equal(readFileSync(join(root, "var/lib/k3s-buildkit/restarted-n1"), "utf8"), "s1\n");
    });

    it("drain: a node cordoned by hand is drained but not recorded, so it stays cordoned; draining off or no node: nothing", async () => {
        const k = kubectlStub();
        writeFileSync(join(k.dir, "node"), `True ${VERSIONS.k3s}`);
        writeFileSync(join(k.dir, "unschedulable"), "true");
        const r = await run("k3s-drain", { K3S_NODE: "n1", K3S_DRAIN: true, K3S_DRAIN_TIMEOUT: 30, K3S_RESTART_STAMP: "s1" }, k.env);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(k.calls().some((c) => c.startsWith("kubectl drain n1")));
        assert.ok(!existsSync(join(root, "var/lib/k3s-buildkit/drained-n1")));
        const off = kubectlStub();
        writeFileSync(join(off.dir, "node"), `True ${VERSIONS.k3s}`);
        const r2 = await run("k3s-drain", { K3S_NODE: "n1", K3S_DRAIN: false, K3S_DRAIN_TIMEOUT: 30, K3S_RESTART_STAMP: "s1" }, off.env);
        assert.match(r2.stdout, /restarts without a drain/);
        const none = kubectlStub();
        const r3 = await run("k3s-drain", { K3S_NODE: "n1", K3S_DRAIN: true, K3S_DRAIN_TIMEOUT: 30, K3S_RESTART_STAMP: "s1" }, none.env);
        assert.match(r3.stdout, /not registered yet: nothing to drain/);
        for (const x of [off, none]) assert.ok(!x.calls().some((c) => c.startsWith("kubectl drain")));
    });
});

describe("k3s install script", () => {
    it("installs the verified binary and the unit, then a second run changes nothing and downloads nothing", async () => {
        const first = await run("k3s-install", k3sParams());
        assert.equal(first.code, 0, first.stderr);
        assert.match(first.stdout, new RegExp(`^k3s_sha256=${mirror.k3sSha256}\nk3s_unit_sha256=[0-9a-f]{64}\n$`));
        const files = snapshot();
        assert.deepEqual(
            Object.keys(files).sort(),
            [
                "/etc/systemd/system/k3s.service",
                "/etc/systemd/system/k3s.service.env",
                "/etc/systemd/system/multi-user.target.wants/k3s.service",
                "/usr/local/bin/k3s",
                "/usr/local/bin/k3s-killall.sh",
                "/usr/local/bin/k3s-uninstall.sh",
                "/var/lib/k3s-buildkit/k3s.created-dirs",
                "/var/lib/k3s-buildkit/k3s.installed",
                // The installer's symlinks for the commands this machine lacks (k3s's install.sh does the same).
                ...missingCommands().map((c) => `/usr/local/bin/${c}`),
            ].sort(),
        );
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

    it("uninstall removes what install added (the unit, scripts, binary, symlinks, state), honouring K3S_DATA_DIR", async () => {
        assert.equal((await run("k3s-install", k3sParams())).code, 0);
        // The installer links the commands this machine lacks to k3s, and only those.
        for (const c of ["kubectl", "crictl", "ctr"]) {
            const missing = missingCommands().includes(c);
            assert.equal(existsSync(join(root, "usr/local/bin", c)), missing, c);
            if (missing) assert.equal(readlinkSync(join(root, "usr/local/bin", c)), "k3s");
        }
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
        // Every binary of the tarball: the two this release carries (built from the module: no runc or qemu helpers).
        assert.deepEqual(Object.keys(files).sort(), [
            "/usr/local/bin/buildctl",
            "/usr/local/bin/buildkitd",
            "/var/lib/k3s-buildkit/buildkit.created-dirs",
            "/var/lib/k3s-buildkit/buildkit.files",
            "/var/lib/k3s-buildkit/buildkit.installed",
        ]);
        assert.ok(existsSync(join(root, "data/buildkit")), "BuildKit's state directory, created (and recorded) by the install");
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

    it("uninstall removes exactly the installed binaries and keeps others; the state directory it created goes too", async () => {
        assert.equal((await run("buildkit-install", buildkitParams())).code, 0);
        execFileSync("sh", [
            "-c",
            `printf x > ${join(root, "usr/local/bin/other-tool")}; mkdir -p ${join(root, "data/buildkit/runc-overlayfs")}; printf c > ${join(root, "data/buildkit/cache.db")}`,
        ]);
        assert.equal((await run("buildkit-uninstall", { BUILDKIT_ROOT: "/data/buildkit" })).code, 0);
        assert.deepEqual(Object.keys(snapshot()), ["/usr/local/bin/other-tool"]);
        assert.equal(existsSync(join(root, "data")), false, "the build cache and the /data the install created are gone");
    });

    it("a state directory that was there before the install is kept by uninstall", async () => {
        execFileSync("sh", ["-c", `mkdir -p ${join(root, "data/buildkit")}; printf mine > ${join(root, "data/buildkit/keep")}`]);
        assert.equal((await run("buildkit-install", buildkitParams())).code, 0);
        const r = await run("buildkit-uninstall", { BUILDKIT_ROOT: "/data/buildkit" });
        assert.equal(r.code, 0);
        assert.equal(readFileSync(join(root, "data/buildkit/keep"), "utf8"), "mine");
        assert.deepEqual(Object.keys(snapshot()), ["/data/buildkit/keep"]);
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
