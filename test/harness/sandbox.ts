/**
 * Runs generated scripts for real, harmlessly: bash (or sh) inside a bubblewrap sandbox whose root file
 * system is read-only, with no network, fresh /tmp, /run and /var/tmp, and a PATH of recording stubs.
 *
 * - Stubs for commands with effects on a host (curl, systemctl, k3s, ctr, buildctl, …) record their argv
 *   and do nothing. Stubs for file and text utilities record their argv, then run the real tool (it can
 *   only write to the sandbox's scratch space).
 * - The first stub a script calls records the environment (the script's exported parameters, as bash
 *   itself read them back from their quoted form).
 * - {@link Sandbox.dir} is shared with the sandbox at the same path: a file a hostile value manages to
 *   create there (e.g. `$(touch <dir>/pwned)`) is seen afterwards.
 *
 * Needs `bwrap` (Debian's bubblewrap; scripts/install-test-deps.sh).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Commands whose stubs only record (they would touch the host, the network, or wait). */
const RECORD_ONLY = [
    "curl",
    "wget",
    "systemctl",
    "journalctl",
    "k3s",
    "kubectl",
    "crictl",
    "ctr",
    "buildctl",
    "buildkitd",
    "nerdctl",
    "ssh",
    "scp",
    "sleep",
    "pkill",
    "pgrep",
    "useradd",
    "groupadd",
    "mount",
    "umount",
    "chown",
    "modprobe",
    "sysctl",
    "iptables",
    "logger",
    "shutdown",
    "reboot",
];
/** Commands whose stubs record, then run the real tool inside the sandbox. */
const PASS_THROUGH = [
    "cat",
    "cp",
    "mv",
    "rm",
    "mkdir",
    "rmdir",
    "chmod",
    "ln",
    "mktemp",
    "base64",
    "tar",
    "gzip",
    "sha256sum",
    "cut",
    "tr",
    "sed",
    "awk",
    "grep",
    "head",
    "tail",
    "sort",
    "uniq",
    "wc",
    "dirname",
    "basename",
    "cmp",
    "diff",
    "find",
    "xargs",
    "env",
    "id",
    "uname",
    "hostname",
    "date",
    "timeout",
    "touch",
    "stat",
    "readlink",
    "realpath",
    "tee",
    "true",
    "false",
    "sh",
    "bash",
    "getent",
    "seq",
    "od",
    "flock",
    "nproc",
    "df",
    "du",
    "whoami",
    "ps",
    "install",
    "sudo",
];

/** One recorded command: its name and arguments. */
export interface Call {
    readonly command: string;
    readonly args: string[];
}

export interface RunResult {
    readonly status: number;
    readonly stderr: string;
    readonly calls: Call[];
    /** The environment the first stub saw (name → value), or empty when no stub ran. */
    readonly env: Record<string, string>;
}

export class Sandbox {
    readonly stubs: string;
    private runs = 0;

    /** `dir`: a fresh directory for stubs, logs and markers; shared with the sandbox at the same path. */
    constructor(readonly dir: string) {
        rmSync(dir, { recursive: true, force: true });
        this.stubs = join(dir, "bin");
        mkdirSync(this.stubs, { recursive: true });
        const real = (name: string) => {
            try {
                return execFileSync("bash", ["-c", `command -v -- ${name}`], { encoding: "utf8" }).trim();
            } catch {
                return "";
            }
        };
        const header = `#!/bin/bash\nf="$K3SBK_CALLS/$$.$RANDOM.$RANDOM"\nprintf '%s\\0' "\${0##*/}" "$@" > "$f"\n[ -e "$K3SBK_ENV" ] || ${real("env")} -0 > "$K3SBK_ENV"\n`;
        for (const name of RECORD_ONLY) writeFileSync(join(this.stubs, name), `${header}exit 0\n`, { mode: 0o755 });
        // buildctl also records the files of the local directories it was given (the context and the Dockerfile, as sent).
        const files = [
            'for a in "$@"; do',
            "  case $a in",
            "    context=/*|dockerfile=/*)",
            '      for f in "${a#*=}"/* "${a#*=}"/.[!.]*; do',
            `        if [ -f "$f" ]; then printf '%s\\0' "$(< "$f")" >> "$K3SBK_CALLS/files"; fi`,
            "      done;;",
            "  esac",
            "done",
        ].join("\n");
        writeFileSync(join(this.stubs, "buildctl"), `${header}${files}\nexit 0\n`, { mode: 0o755 });
        for (const name of PASS_THROUGH) {
            const path = real(name);
            if (path === "") continue;
            // sudo: drop its options (-n, -E, …) and run the rest, as passwordless sudo as root would.
            const body =
                name === "sudo" ? 'while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n' : `exec ${path} "$@"\n`;
            writeFileSync(join(this.stubs, name), `${header}${body}`, { mode: 0o755 });
        }
    }

    /** A file a hostile value would create if it ran: the marker path to put in values. */
    get marker(): string {
        return join(this.dir, "pwned");
    }

    /** Whether anything created the marker (or any file next to it named like it). */
    markerExists(): boolean {
        return readdirSync(this.dir).some((f) => f.startsWith("pwned") || f.startsWith("evil") || f === "out");
    }

    /**
     * Runs `argv` (e.g. `["bash", "-s"]`) with `input` on stdin inside the sandbox, PATH = the stubs only.
     * Returns what the stubs recorded. Never throws on the script's own failure.
     */
    run(argv: readonly string[], input = "", timeoutMs = 20_000): RunResult {
        const id = ++this.runs;
        const calls = join(this.dir, `calls-${id}`);
        const envFile = join(this.dir, `env-${id}`);
        mkdirSync(calls);
        // prettier-ignore
        const r = spawnSync("bwrap", [
            "--ro-bind", "/", "/",
            "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--tmpfs", "/run", "--tmpfs", "/var/tmp", "--tmpfs", "/var/lib",
            "--bind", this.dir, this.dir,
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
            "--clearenv",
            "--setenv", "PATH", this.stubs,
            "--setenv", "HOME", "/tmp",
            "--setenv", "K3SBK_CALLS", calls,
            "--setenv", "K3SBK_ENV", envFile,
            "--chdir", "/tmp",
            // The entry shell is the real one (its stub would record the environment before the script's exports).
            ...argv.map((a, i) => (i === 0 && !a.startsWith("/") ? `/bin/${a}` : a)),
        ], { input, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
        const recorded: Call[] = readdirSync(calls).map((f) => {
            if (f === "files") return { command: "(files buildctl was given)", args: readFileSync(join(calls, f), "utf8").split("\0") };
            const parts = readFileSync(join(calls, f), "utf8").split("\0").slice(0, -1);
            return { command: parts[0] ?? "", args: parts.slice(1) };
        });
        const env: Record<string, string> = {};
        if (existsSync(envFile)) {
            for (const entry of readFileSync(envFile, "utf8").split("\0")) {
                const eq = entry.indexOf("=");
                if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
            }
        }
        rmSync(calls, { recursive: true, force: true });
        rmSync(envFile, { force: true });
        return { status: r.status ?? -1, stderr: r.stderr ?? "", calls: recorded, env };
    }
}
