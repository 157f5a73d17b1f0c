/**
 * Shell quoting: the one function through which every value that reaches a shell passes.
 *
 * Scripts run on hosts are fed on stdin to `bash -s`; their parameters are exported at the top of
 * the script by {@link exportLines}, each value quoted by {@link shellQuote}.
 */

/** Names a script parameter may have: a portable shell variable name. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Quotes `value` so that bash reads it back as exactly one word with exactly this content,
 * expanding nothing: `'…'`, with each `'` written as `'\''`.
 *
 * NUL bytes cannot be held by a shell variable or argument, so they are rejected.
 */
export function shellQuote(value: string): string {
    if (value.includes("\0")) {
        throw new Error("shellQuote: a value passed to a shell cannot contain a NUL byte");
    }
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A script parameter: a string, a number or a boolean (written as `true`/`false`). */
export type ScriptParam = string | number | boolean;

/**
 * Renders `export NAME='value'` lines, one per parameter, in the order given.
 * Names are checked; values are quoted by {@link shellQuote}.
 */
export function exportLines(params: Readonly<Record<string, ScriptParam>>): string {
    return Object.entries(params)
        .map(([name, value]) => {
            if (!VARIABLE_NAME.test(name)) {
                throw new Error(`exportLines: ${JSON.stringify(name)} is not a valid shell variable name`);
            }
            return `export ${name}=${shellQuote(String(value))}\n`;
        })
        .join("");
}

/**
 * Reads back the parameters {@link exportLines} wrote at the top of a script: name → value. The inverse
 * of exportLines, for render output and tests (bash itself is the reader on hosts).
 */
export function readExportLines(script: string): Record<string, string> {
    const out: Record<string, string> = {};
    const line = /^export ([A-Za-z_][A-Za-z0-9_]*)=((?:'[^']*'|\\')+)$/gm;
    for (const m of script.matchAll(line)) {
        out[m[1]] = m[2].replace(/'([^']*)'|\\'/g, (_, inner: string | undefined) => inner ?? "'");
    }
    return out;
}

/** buildctl's argv as {@link exportLines} parameters carry it (`BUILDCTL_ARGC`, `BUILDCTL_ARG_<i>`), read back from a script. */
export function readArgvParams(script: string): string[] {
    const p = readExportLines(script);
    const n = Number(p.BUILDCTL_ARGC ?? "0");
    return Array.from({ length: n }, (_, i) => p[`BUILDCTL_ARG_${i}`] ?? "");
}

/**
 * A complete script for `bash -s`: strict mode, the exported parameters, then the body.
 * The body reads its parameters from the environment, so it never interpolates a value itself.
 */
export function renderScript(body: string, params: Readonly<Record<string, ScriptParam>> = {}): string {
    return `set -euo pipefail\n${exportLines(params)}${body.endsWith("\n") ? body : `${body}\n`}`;
}

/** Words that read back unchanged without quotes (no glob, expansion or separator characters). */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * A command line from argv: plain words as they are, every other word through {@link shellQuote}.
 * For command lines people read (rendered build commands) and scripts alike; bash reads back argv.
 */
export function shellWords(argv: readonly string[]): string {
    return argv.map((w) => (PLAIN_WORD.test(w) ? w : shellQuote(w))).join(" ");
}
