/**
 * Every pattern and rule in the config schema runs in linear time: each is fed 10 kB near-misses (long
 * runs of the characters it accepts, then one it does not) and must answer in under 100 ms. A pattern
 * with nested quantifiers over overlapping classes (like the old `^\/(?:[A-Za-z0-9._+@-]+\/?)*$`) takes
 * seconds to minutes here.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stackSchema } from "../../components/config";
import { walkFields } from "../../components/config/schema";

const RUNS = ["a", "0", "a-", "a.", "/a", "a/", "0.", "0:", "a:", "-", "_", "a@", "./", "a/.", "ab-", "1a"];
const ENDINGS = ["", " ", "!", "/", "..", ":x", '"', "-", "#", "/.."];
const nearMisses = RUNS.flatMap((run) => ENDINGS.map((end) => `${run.repeat(Math.ceil(10_000 / run.length))}${end}`));

interface Rule {
    readonly where: string;
    readonly test: (value: string) => unknown;
}

function rules(): Rule[] {
    const out: Rule[] = [];
    for (const { path, field } of walkFields(stackSchema)) {
        if (field.kind === "string") {
            if (field.pattern !== undefined) {
                const re = field.pattern.regex;
                out.push({ where: `${path} pattern ${String(re)}`, test: (v) => re.test(v) });
            }
            if (field.check !== undefined) {
                const check = field.check;
                out.push({ where: `${path} check`, test: (v) => check(v) });
            }
        }
        if (field.kind === "map" && field.keyPattern !== undefined) {
            const re = field.keyPattern.regex;
            out.push({ where: `${path} key pattern ${String(re)}`, test: (v) => re.test(v) });
        }
    }
    return out;
}

describe("config patterns run in linear time", () => {
    const all = rules();
    it(`finds the schema's rules (${all.length})`, () => {
        assert.ok(all.length >= 30, `only ${all.length} rules found`);
    });
    for (const rule of all) {
        it(`${rule.where}: every 10 kB near-miss answers in under 100 ms`, () => {
            let worst = 0;
            let worstInput = "";
            for (const input of nearMisses) {
                const t0 = performance.now();
                rule.test(input);
                const ms = performance.now() - t0;
                if (ms > worst) [worst, worstInput] = [ms, input];
            }
            assert.ok(
                worst < 100,
                `${worst.toFixed(0)} ms on ${JSON.stringify(worstInput.slice(0, 12))}… (${worstInput.length} characters)`,
            );
        });
    }
});
