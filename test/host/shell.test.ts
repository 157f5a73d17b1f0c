/**
 * The one shell-quoting function, checked by real bash: every hostile value must come back exactly
 * and execute nothing.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { exportLines, renderScript, shellQuote } from "../../components/render/shell";

const scratch = mkdtempSync(join(tmpdir(), "k3sbk-shell-"));
const marker = join(scratch, "pwned");
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Values a config key could hold; each would run `touch <marker>` if it were ever evaluated. */
const HOSTILE: Record<string, string> = {
    singleQuote: "it's",
    doubleQuotes: 'say "hi"',
    commandSubstitution: `$(touch ${marker})`,
    backticks: `\`touch ${marker}\``,
    semicolon: `x; touch ${marker}`,
    ampersand: `x && touch ${marker} &`,
    pipe: `x | touch ${marker}`,
    newline: `line1\ntouch ${marker}\nline3`,
    carriageReturn: "a\r\nb",
    spaces: "  leading and trailing  ",
    glob: "* ? [a-z] ~ /etc/*",
    braces: "{a,b} ${HOME} $HOME ${x:-y}",
    backslashes: "a\\b\\\\c\\'d",
    quoteMix: `'"'"'\`$(\\`,
    redirect: `> ${marker} < /dev/null 2>&1`,
    nonAscii: "中文 Ünïcødé ✓ 🚀",
    empty: "",
    dash: "-rf --",
    history: "!! !$ !-1",
    tab: "a\tb",
};

function bashEcho(script: string): string {
    return execFileSync("bash", ["-s"], { input: script, encoding: "utf8" });
}

describe("shellQuote", () => {
    for (const [name, value] of Object.entries(HOSTILE)) {
        it(`round-trips ${name} through bash and executes nothing`, () => {
            const out = bashEcho(`printf '%s' ${shellQuote(value)}`);
            assert.equal(out, value);
            assert.equal(existsSync(marker), false);
        });
    }

    it("quotes as one word even next to other words", () => {
        const out = bashEcho(`set -- ${shellQuote("a b")} ${shellQuote("")} ${shellQuote("c")}; printf '%s|' "$#" "$@"`);
        assert.equal(out, "3|a b||c|");
    });

    it("rejects a NUL byte, which no shell word can hold", () => {
        assert.throws(() => shellQuote("a\0b"), /^Error: shellQuote: a value passed to a shell cannot contain a NUL byte$/);
    });

    it("has the exact form '…' with '\\'' for quotes", () => {
        assert.equal(shellQuote("it's"), `'it'\\''s'`);
        assert.equal(shellQuote(""), "''");
    });
});

describe("exportLines and renderScript", () => {
    it("exports every hostile value intact to the script body", () => {
        const names = Object.keys(HOSTILE);
        const params = Object.fromEntries(names.map((n, i) => [`P${i}`, HOSTILE[n]]));
        const body = names.map((_, i) => `printf '%s\\0' "$P${i}"`).join("\n");
        const out = bashEcho(renderScript(body, params));
        assert.deepEqual(out.split("\0").slice(0, -1), Object.values(HOSTILE));
        assert.equal(existsSync(marker), false);
    });

    it("writes numbers and booleans as text", () => {
        assert.equal(exportLines({ A: 22, B: true, C: false }), "export A='22'\nexport B='true'\nexport C='false'\n");
    });

    it("rejects a parameter name that is not a shell variable name", () => {
        assert.throws(() => exportLines({ "A;touch x": "v" }), /^Error: exportLines: "A;touch x" is not a valid shell variable name$/);
        assert.throws(() => exportLines({ "1A": "v" }), /is not a valid shell variable name/);
    });

    it("starts with strict mode, then the parameters, then the body", () => {
        assert.equal(renderScript("echo hi", { X: "1" }), "set -euo pipefail\nexport X='1'\necho hi\n");
    });

    it("stops at the first failing command (set -euo pipefail)", () => {
        assert.throws(() => bashEcho(renderScript(`false | true\ntouch ${shellQuote(marker)}`)));
        assert.equal(existsSync(marker), false);
    });
});
