/**
 * A real test host: Debian bookworm booted with `systemd-nspawn` (systemd as PID 1) running a real
 * OpenSSH server on 127.0.0.1:<port>, with host and user keys generated for each run.
 *
 * The root filesystem is built once with debootstrap and cached as a tarball (about 45 s cold);
 * each machine boots from a fresh copy of it (a few seconds). Needs root, `debootstrap`,
 * `systemd-container` and `openssh-client` (see scripts/install-test-deps.sh).
 *
 * Users inside: `root`, `builder` (passwordless sudo) and `nosudo` (no sudo), all accepting the
 * run's client key.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TransportTarget } from "../../components/host/runner";
import { execScript } from "../../components/host/transport";
import { kubeApiServerBinaries } from "./kube-apiserver";

/** Packages in the test rootfs; the cache key includes this list. */
const PACKAGES = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "iproute2",
    "sudo",
    "curl",
    "ca-certificates",
    "procps",
    // Debian's containerd: the k3s fixture runs it as k3s's embedded containerd; runc runs a build's RUN
    // steps (the host daemon's containerd worker, the in-cluster daemon's OCI worker).
    "containerd",
    "runc",
    // The in-cluster daemon's rootless mode (the rootless image's entrypoint is rootlesskit), git for
    // BuildKit's git contexts and the test's git daemon, a static busybox for the offline base image.
    "rootlesskit",
    "uidmap",
    "git",
    "busybox-static",
    // The k3s fixture makes its cluster's certificates as k3s lays them out.
    "openssl",
];
/** Where every machine finds kube-apiserver, etcd, kube-controller-manager and kubectl (read-only). */
export const KUBE_PARTS = "/usr/local/lib/k3s-fixture";
/** Their directory here (built or found once per test process). */
let kubeParts: string | undefined;
const MIRROR = process.env.K3SBK_DEBIAN_MIRROR ?? "http://deb.debian.org/debian";
const CACHE_DIR = process.env.K3SBK_CACHE_DIR ?? "/var/cache/k3s-buildkit-test";
const WORK_DIR = process.env.K3SBK_MACHINE_DIR ?? "/var/tmp/k3s-buildkit-machines";

function sh(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], ...opts });
}

/** Checks the tools the harness needs and says how to get them. */
export function assertHarnessPrerequisites(): void {
    if (process.getuid?.() !== 0) throw new Error("the real-host tests need root (systemd-nspawn, debootstrap)");
    const missing = ["debootstrap", "systemd-nspawn", "ssh-keygen", "tar"].filter((t) => {
        try {
            sh("sh", ["-c", `command -v ${t}`]);
            return false;
        } catch {
            return true;
        }
    });
    if (missing.length > 0) {
        throw new Error(`missing ${missing.join(", ")}: run  sudo bash scripts/install-test-deps.sh`);
    }
}

/** Path of the cached rootfs tarball, building it first if needed. */
export function ensureRootfs(): string {
    const key = createHash("sha256").update(PACKAGES.join(",")).update(MIRROR).digest("hex").slice(0, 12);
    const tarball = join(CACHE_DIR, `bookworm-${key}.tar`);
    if (existsSync(tarball)) return tarball;
    mkdirSync(CACHE_DIR, { recursive: true });
    const build = mkdtempSync(join(CACHE_DIR, "build-"));
    try {
        const root = join(build, "rootfs");
        sh("debootstrap", ["--variant=minbase", `--include=${PACKAGES.join(",")}`, "bookworm", root, MIRROR]);
        // Users for the tests; sshd keys are replaced per machine.
        sh("chroot", [root, "useradd", "--create-home", "--shell", "/bin/bash", "builder"]);
        sh("chroot", [root, "useradd", "--create-home", "--shell", "/bin/bash", "nosudo"]);
        writeFileSync(join(root, "etc/sudoers.d/builder"), "builder ALL=(ALL) NOPASSWD:ALL\n", { mode: 0o440 });
        rmSync(join(root, "etc/machine-id"), { force: true });
        writeFileSync(join(root, "etc/machine-id"), "");
        sh("sh", ["-c", 'rm -f "$1"/etc/ssh/ssh_host_*', "sh", root]);
        sh("tar", ["-C", root, "-cf", `${tarball}.tmp`, "."]);
        renameSync(`${tarball}.tmp`, tarball);
        return tarball;
    } finally {
        rmSync(build, { recursive: true, force: true });
    }
}

/** Generates an ed25519 key pair; returns the private key and the public key line. */
export function generateKey(dir: string, name: string, passphrase = ""): { privateKey: string; publicKey: string; path: string } {
    const path = join(dir, name);
    sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", path]);
    return { privateKey: readFileSync(path, "utf8"), publicKey: readFileSync(`${path}.pub`, "utf8").trim(), path };
}

function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
    return new Promise((resolve) => {
        const s = createConnection({ host, port }, () => {
            s.end();
            resolve(true);
        });
        s.on("error", () => resolve(false));
    });
}

/**
 * Addresses both ends of a machine's veth pair once its init and interface exist; false until then. The
 * machine's end is configured from its network namespace (entered through its init's PID).
 */
function configurePrivateNetwork(nspawnPid: number, net: NonNullable<BootOptions["privateNetwork"]>): boolean {
    let init: string | undefined;
    try {
        init = readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, "utf8").trim().split(" ")[0];
    } catch {
        return false;
    }
    if (init === undefined || init === "") return false;
    try {
        sh("ip", ["link", "show", net.hostInterface]);
    } catch {
        return false;
    }
    // nspawn's first child may still be its short-lived intermediate process (in this host's network namespace,
    // or already gone): only a child in a namespace of its own is the machine's init; until then, try again.
    try {
        if (readlinkSync(`/proc/${init}/ns/net`) === readlinkSync("/proc/self/ns/net")) return false;
    } catch {
        return false;
    }
    sh("ip", ["addr", "replace", `${net.hostAddress}/30`, "dev", net.hostInterface]);
    sh("ip", ["link", "set", net.hostInterface, "up"]);
    try {
        sh("nsenter", ["-t", init, "-n", "ip", "addr", "replace", `${net.address}/30`, "dev", "eth0"]);
        sh("nsenter", ["-t", init, "-n", "ip", "link", "set", "eth0", "up"]);
        sh("nsenter", ["-t", init, "-n", "ip", "link", "set", "lo", "up"]);
    } catch {
        return false; // (the process left between the check and nsenter: the next round finds init)
    }
    return true;
}

/** A free TCP port on 127.0.0.1 in a range nothing else here uses. */
async function freePort(): Promise<number> {
    for (let i = 0; i < 50; i++) {
        const port = 20000 + Math.floor(Math.random() * 20000);
        if (!(await portOpen(port))) return port;
    }
    throw new Error("no free port found");
}

export interface Machine {
    readonly name: string;
    readonly root: string;
    /** Where its sshd listens: 127.0.0.1, or its own address on a private network. */
    readonly address: string;
    readonly port: number;
    /** The client key every user accepts. */
    readonly clientKey: { privateKey: string; publicKey: string; path: string };
    /** The sshd host key (public line, `ssh-ed25519 AAAA…`). */
    readonly hostKey: string;
    /** A transport target for `user` (sudo for non-root users). */
    target(
        user: "root" | "builder" | "nosudo",
        extra?: Partial<Extract<TransportTarget, { kind: "ssh" }>>,
    ): Extract<TransportTarget, { kind: "ssh" }>;
    /** Every command line clients sent over SSH, in order (all users). */
    commandLines(): string[];
    /** Runs a shell command as root inside the machine (over SSH) and returns stdout; throws on failure. */
    exec(command: string): Promise<string>;
    /**
     * A path inside the running machine as this host sees it (`/proc/<its init>/root/<path>`): reaches
     * what lives in the machine's own mounts, like a unix socket under /run.
     */
    hostPath(path: string): string;
    /** Powers the machine off and boots it again from the same disk (units come back as they are enabled). */
    reboot(): Promise<void>;
    stop(): Promise<void>;
}

export interface BootOptions {
    /**
     * Bind this repository read-only at /repo and this Node binary at /usr/local/bin/node, so tests
     * can run the project's own code *on* the machine (the local-connection cases).
     */
    readonly bindRepo?: boolean;
    /** Accept this client key instead of a new one (several machines, one stack key). */
    readonly clientKey?: { privateKey: string; publicKey: string; path: string };
    /**
     * A network of its own instead of this host's: a veth pair, `hostInterface` here with `hostAddress`, eth0
     * in the machine with `address` (both /30). Its loopback (and what listens there) is then its own: this
     * host reaches the machine only at `address`, as a private host behind a bastion is reached.
     */
    readonly privateNetwork?: { readonly hostInterface: string; readonly hostAddress: string; readonly address: string };
    /** Directories of this host bound into the machine (read-write), as `--bind=<host>:<machine>`. */
    readonly binds?: readonly { readonly host: string; readonly machine: string }[];
}

/** The repository root (this file is test/harness/machine.ts). */
export const REPO_ROOT = join(__dirname, "..", "..");

/**
 * Runs `systemd-nspawn "$@"` (after the cgroup name in $1) in a cgroup of its own in every cgroup v1
 * controller but systemd's, created under the current one (cpuset's CPUs and memory nodes copied).
 */
const V1_CGROUP_WRAPPER = `name=$1; shift
while IFS=: read -r _ ctrls path; do
  case $ctrls in ''|name=*) continue ;; esac
  dir=/sys/fs/cgroup/\${ctrls%%,*}
  [ -d "$dir" ] || continue
  own="$dir$path/$name"
  mkdir -p "$own" 2>/dev/null || continue
  if [ -f "$own/cpuset.cpus" ]; then cat "$dir$path/cpuset.cpus" > "$own/cpuset.cpus"; cat "$dir$path/cpuset.mems" > "$own/cpuset.mems"; fi
  echo $$ > "$own/cgroup.procs" 2>/dev/null || true
done < /proc/self/cgroup
exec systemd-nspawn "$@"`;

/** Removes a stopped machine's cgroups (see V1_CGROUP_WRAPPER), deepest first. */
function removeV1Cgroups(name: string): void {
    try {
        execFileSync("sh", [
            "-c",
            'find /sys/fs/cgroup -mindepth 2 -type d -name "$1" 2>/dev/null | while IFS= read -r d; do find "$d" -depth -type d -exec rmdir {} \\; 2>/dev/null; done; true',
            "sh",
            name,
        ]);
    } catch {
        // best effort: an empty cgroup left behind holds nothing
    }
}

/** Boots a fresh machine from the cached rootfs and waits until sshd answers and systemd is up. */
export async function bootMachine(name: string, options: BootOptions = {}): Promise<Machine> {
    assertHarnessPrerequisites();
    const tarball = ensureRootfs();
    mkdirSync(WORK_DIR, { recursive: true });
    const dir = mkdtempSync(join(WORK_DIR, `${name}-`));
    const root = join(dir, "rootfs");
    mkdirSync(root);
    sh("tar", ["-C", root, "-xf", tarball]);
    const keys = mkdtempSync(join(tmpdir(), "k3sbk-keys-"));
    const clientKey = options.clientKey ?? generateKey(keys, "client");
    const host = generateKey(keys, "ssh_host_ed25519_key");
    const port = await freePort();
    writeFileSync(join(root, "etc/ssh/ssh_host_ed25519_key"), host.privateKey, { mode: 0o600 });
    writeFileSync(join(root, "etc/ssh/ssh_host_ed25519_key.pub"), `${host.publicKey}\n`);
    writeFileSync(
        join(root, "etc/ssh/sshd_config.d/test.conf"),
        `Port ${port}\nListenAddress ${options.privateNetwork === undefined ? "127.0.0.1" : "0.0.0.0"}\nHostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\n` +
            `PermitRootLogin prohibit-password\nForceCommand /usr/local/sbin/record-command\n` +
            // Each channel (session) in the journal too: "Starting session: command for …" (benchmarks count them).
            `LogLevel VERBOSE\n`,
    );
    // Every command line a client sends is recorded, so tests can prove no secret is ever on one.
    writeFileSync(
        join(root, "usr/local/sbin/record-command"),
        '#!/bin/sh\nprintf \'%s\\n\' "$SSH_ORIGINAL_COMMAND" >> "/var/log/ssh-commands/$(id -un).log"\nexec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n',
        { mode: 0o755 },
    );
    mkdirSync(join(root, "var/log/ssh-commands"), { mode: 0o1777 });
    sh("chmod", ["1777", join(root, "var/log/ssh-commands")]);
    for (const [user, home] of [
        ["root", "/root"],
        ["builder", "/home/builder"],
        ["nosudo", "/home/nosudo"],
    ] as const) {
        mkdirSync(join(root, home, ".ssh"), { recursive: true, mode: 0o700 });
        writeFileSync(join(root, home, ".ssh/authorized_keys"), `${clientKey.publicKey}\n`, { mode: 0o600 });
        if (user !== "root") sh("chroot", [root, "chown", "-R", `${user}:${user}`, `${home}/.ssh`]);
    }
    writeFileSync(join(root, "etc/hostname"), `${name}\n`);
    for (const b of options.binds ?? []) mkdirSync(join(root, b.machine), { recursive: true });
    // The real Kubernetes parts the k3s fixture runs as its API (test/fixtures/k3s-fixture.sh).
    kubeParts ??= kubeApiServerBinaries();
    mkdirSync(join(root, KUBE_PARTS), { recursive: true });
    // On a host with legacy (v1) cgroups, nspawn mounts the controllers read-only, and runc could not
    // make a build step's cgroup (RUN fails: "mkdir /sys/fs/cgroup/cpuset/buildkit: read-only file
    // system"). A real host's containerd can; so can this machine's, once they are remounted writable
    // (the machine's view is its own cgroup namespace).
    writeFileSync(
        join(root, "usr/local/sbin/cgroup-controllers-rw"),
        '#!/bin/sh\nfor d in /sys/fs/cgroup/*; do\n  if [ "$(stat -fc %T "$d")" = cgroupfs ] && [ ! -w "$d" ]; then mount -o remount,bind,rw "$d"; fi\ndone\n',
        { mode: 0o755 },
    );
    writeFileSync(
        join(root, "etc/systemd/system/cgroup-controllers-rw.service"),
        "[Unit]\nDescription=cgroup v1 controllers writable (test harness)\nDefaultDependencies=no\nBefore=sysinit.target\n" +
            "ConditionPathIsDirectory=/sys/fs/cgroup/cpuset\n\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/cgroup-controllers-rw\n\n" +
            "[Install]\nWantedBy=sysinit.target\n",
    );
    mkdirSync(join(root, "etc/systemd/system/sysinit.target.wants"), { recursive: true });
    symlinkSync(
        "/etc/systemd/system/cgroup-controllers-rw.service",
        join(root, "etc/systemd/system/sysinit.target.wants/cgroup-controllers-rw.service"),
    );
    writeFileSync(join(root, "etc/hosts"), `127.0.0.1 localhost\n127.0.1.1 ${name}\n::1 localhost ip6-localhost ip6-loopback\n`);
    const log = join(dir, "console.log");
    const cgroupName = `k3sbk-${name}-${port}`;
    const logChunks: Buffer[] = [];
    let child: ChildProcess;
    let exited = false;
    /** Starts the container on its root file system (again, after a power-off: a reboot). */
    const spawnContainer = () => {
        exited = false;
        // In its own cgroup of each v1 controller (the machine's cgroup namespace is rooted there): two
        // machines' `system.slice/k3s.service` are then two cgroups, not one shared by both.
        const c = spawn(
            "sh",
            [
                "-c",
                V1_CGROUP_WRAPPER,
                "sh",
                cgroupName,
                "-D",
                root,
                "--boot",
                "--register=no",
                "--keep-unit",
                `--machine=${name}-${port}`,
                "--console=pipe",
                // nspawn's seccomp filter refuses the keyring calls; runc makes a session keyring for
                // every container it starts (a build's RUN step), as on any real host.
                "--system-call-filter=add_key keyctl request_key",
                ...(options.bindRepo === true ? [`--bind-ro=${REPO_ROOT}:/repo`, `--bind-ro=${process.execPath}:/usr/local/bin/node`] : []),
                ...(options.privateNetwork === undefined ? [] : [`--network-veth-extra=${options.privateNetwork.hostInterface}:eth0`]),
                ...(options.binds ?? []).map((b) => `--bind=${b.host}:${b.machine}`),
                `--bind-ro=${kubeParts}:${KUBE_PARTS}`,
            ],
            { stdio: ["ignore", "pipe", "pipe"], detached: false },
        );
        c.stdout?.on("data", (d: Buffer) => logChunks.push(d));
        c.stderr?.on("data", (d: Buffer) => logChunks.push(d));
        c.on("exit", () => {
            exited = true;
        });
        child = c;
    };
    spawnContainer();

    const address = options.privateNetwork?.address ?? "127.0.0.1";
    const rootTarget = (): Extract<TransportTarget, { kind: "ssh" }> => ({
        kind: "ssh",
        host: address,
        port,
        user: "root",
        sudo: false,
        privateKey: clientKey.privateKey,
        hostKey: host.publicKey.split(" ").slice(0, 2).join(" "),
        dialErrorLimit: 1,
        dialTimeoutSeconds: 10,
    });
    const exec = async (command: string): Promise<string> => {
        const r = await execScript(rootTarget(), `set -euo pipefail\n${command}\n`);
        if (r.code !== 0) throw new Error(`in machine ${name}: ${command}: exit ${r.code}: ${r.stderr}`);
        return r.stdout;
    };
    /** Powers the container off (nspawn turns SIGTERM into an orderly shutdown of its systemd). */
    const powerOff = async (): Promise<void> => {
        if (exited) return;
        // The machine's init (nspawn's child), read now: killing nspawn alone would leave it running, orphaned,
        // holding the machine's network (a later boot of the same machine then fails).
        let init: number | undefined;
        try {
            init = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(" ")[0]) || undefined;
        } catch {
            init = undefined;
        }
        child.kill("SIGTERM");
        const deadline = Date.now() + 30_000;
        while (!exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        if (!exited) {
            // SIGKILL to a PID namespace's init ends every process in it.
            if (init !== undefined) {
                try {
                    process.kill(init, "SIGKILL");
                } catch {
                    // already gone
                }
            }
            child.kill("SIGKILL");
        }
        while (!exited) await new Promise((r) => setTimeout(r, 100));
    };
    const stop = async (): Promise<void> => {
        await powerOff();
        removeV1Cgroups(cgroupName);
        writeFileSync(log, Buffer.concat(logChunks));
        rmSync(dir, { recursive: true, force: true });
        rmSync(keys, { recursive: true, force: true });
    };
    const waitUntilUp = async (): Promise<void> => {
        const deadline = Date.now() + 90_000;
        let networkUp = options.privateNetwork === undefined;
        for (;;) {
            if (!networkUp && options.privateNetwork !== undefined)
                networkUp = configurePrivateNetwork(child.pid ?? 0, options.privateNetwork);
            if (exited) {
                const out = Buffer.concat(logChunks).toString("utf8").slice(-3000);
                rmSync(dir, { recursive: true, force: true });
                throw new Error(`machine ${name} exited while booting:\n${out}`);
            }
            if (networkUp && (await portOpen(port, address))) {
                const r = await execScript(rootTarget(), "timeout 30 systemctl is-system-running --wait || true\n").catch(() => undefined);
                const state = r?.stdout.trim();
                if (state === "running" || state === "degraded") break;
            }
            if (Date.now() > deadline) {
                await stop();
                throw new Error(`machine ${name} did not come up within 90 s`);
            }
            await new Promise((r) => setTimeout(r, 250));
        }
    };
    await waitUntilUp();

    return {
        name,
        root,
        address,
        port,
        clientKey,
        hostKey: host.publicKey.split(" ").slice(0, 2).join(" "),
        target: (user, extra = {}) => ({ ...rootTarget(), user, sudo: user !== "root", ...extra }),
        exec,
        stop,
        reboot: async () => {
            await powerOff();
            spawnContainer();
            await waitUntilUp();
        },
        hostPath: (path: string) => {
            const init = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(" ")[0];
            return `/proc/${init}/root${path}`;
        },
        commandLines: () =>
            ["root", "builder", "nosudo"].flatMap((u) => {
                const f = join(root, "var/log/ssh-commands", `${u}.log`);
                return existsSync(f)
                    ? readFileSync(f, "utf8")
                          .split("\n")
                          .filter((l) => l !== "")
                    : [];
            }),
    };
}
