/**
 * `systemd-analyze verify` for unit files, reporting any output as a failure (it exits 0 on unknown
 * keys). It fails when an ExecStart binary is missing, so that binary (/usr/local/bin/buildkitd unless named) is put in place for
 * the call when absent, and removed again.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";

export function verifyUnits(paths: readonly string[], binary = "/usr/local/bin/buildkitd"): { status: number | null; output: string } {
    const placed = !existsSync(binary);
    if (placed) {
        mkdirSync("/usr/local/bin", { recursive: true });
        writeFileSync(binary, "#!/bin/sh\n");
        chmodSync(binary, 0o755);
    }
    try {
        const r = spawnSync("systemd-analyze", ["verify", ...paths], { encoding: "utf8" });
        return { status: r.status, output: `${r.stdout}${r.stderr}` };
    } finally {
        if (placed) rmSync(binary, { force: true });
    }
}

/**
 * An `EnvironmentFile=` as systemd reads it (its parse_env_file rules, for the cases the k3s installer
 * writes): `KEY=VALUE` lines, `#`/`;` comments, single quotes taken literally, double quotes with
 * backslash escapes, a backslash outside quotes escaping the next character, unquoted trailing blanks
 * dropped. Not regexes for one spelling: the installer writes `K3S_X='v'`, a hand-written file `K3S_X=v`.
 */
export function readEnvFile(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const raw of text.split("\n")) {
        const line = raw.trimStart();
        if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
        const eq = line.indexOf("=");
        if (eq <= 0) continue;
        const key = line.slice(0, eq).trim();
        let value = "";
        let quote: "'" | '"' | undefined;
        const rest = line.slice(eq + 1);
        for (let i = 0; i < rest.length; i++) {
            const c = rest[i];
            if (quote === "'") {
                if (c === "'") quote = undefined;
                else value += c;
            } else if (quote === '"') {
                if (c === '"') quote = undefined;
                else if (c === "\\" && i + 1 < rest.length) value += rest[++i];
                else value += c;
            } else if (c === "'" || c === '"') quote = c;
            else if (c === "\\" && i + 1 < rest.length) value += rest[++i];
            else value += c;
        }
        out[key] = quote === undefined ? value.replace(/\s+$/, "") : value;
    }
    return out;
}
