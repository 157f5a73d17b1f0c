/**
 * The pieces of a connection the dynamic providers need at run time: the runner command line, the
 * serializable target, its label. Imports nothing from Pulumi: dynamic-provider code is serialized
 * with everything it reaches, and reaching the Pulumi SDK would drag the stack config (and its
 * secrets) into the serialized text (test/host/host-file.test.ts guards this).
 */

// Type-only: erased at run time, so it adds nothing to serialized provider code.
import type { ConnectionConfig } from "../config";

/** Exit code of {@link runnerCommand} when sudo needs a password. */
export const SUDO_EXIT_CODE = 97;

/**
 * The command line that runs a script read from stdin, as root. Without sudo it is `bash -s`;
 * with sudo it first checks that `sudo -n` works and otherwise fails with a message that says how to
 * fix it. Nothing secret is ever part of this line: parameters travel inside the script on stdin.
 * Written in POSIX sh, since it is read by the login shell (remote) or `/bin/sh -c` (local).
 */
export function runnerCommand(sudo: boolean): string {
    if (!sudo) return "bash -s";
    return (
        `if ! sudo -n true 2>/dev/null; then ` +
        `echo "k3s-buildkit: user $(id -un) on $(hostname) cannot run sudo without a password; ` +
        `allow it with: echo \\"$(id -un) ALL=(ALL) NOPASSWD:ALL\\" > /etc/sudoers.d/k3s-buildkit" >&2; ` +
        `exit ${SUDO_EXIT_CODE}; fi; exec sudo -n bash -s`
    );
}

/**
 * The plain, serializable connection the dynamic resources carry in their inputs and state: the
 * connection config plus, for SSH, the key (which makes the whole value a secret Output).
 */
export type TransportTarget =
    | (Extract<ConnectionConfig, { kind: "ssh" }> & { readonly privateKey: string; readonly privateKeyPassphrase?: string })
    | Extract<ConnectionConfig, { kind: "local" }>;

/** A short human label for a target, used in resource IDs and error messages (never secret). */
export function targetLabel(
    t: { readonly kind: "local" } | { readonly kind: "ssh"; readonly user: string; readonly host: string; readonly port: number },
): string {
    return t.kind === "local" ? "local" : `${t.user}@${t.host}:${t.port}`;
}

/**
 * The part of a target that names the machine (kind, address, port, user, bastion), without its
 * credentials or dial settings. The providers compare this, so a rotated key or a pinned host key
 * changes state but re-runs nothing.
 */
export function targetIdentity(t: TransportTarget): Record<string, unknown> {
    if (t.kind === "local") return { kind: "local" };
    const b = t.bastion;
    return {
        kind: "ssh",
        host: t.host,
        port: t.port,
        user: t.user,
        ...(b === undefined ? {} : { bastion: { host: b.host, port: b.port, user: b.user } }),
    };
}

/**
 * How a provider's target changed: `["target"]` (another machine or user), `["credentials"]` (the same
 * machine with another key or dial setting: state only), or nothing.
 */
export function targetChanges(olds: TransportTarget, news: TransportTarget): ("target" | "credentials")[] {
    if (JSON.stringify(targetIdentity(olds)) !== JSON.stringify(targetIdentity(news))) return ["target"];
    return JSON.stringify(olds) === JSON.stringify(news) ? [] : ["credentials"];
}
