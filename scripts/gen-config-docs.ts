/** Rewrites the config reference in README.md from the schema in components/config.ts. */
import { writeFileSync } from "node:fs";
import { formattedReadme, README_PATH } from "./readme";

void formattedReadme().then((text) => {
    writeFileSync(README_PATH, text);
    console.log(`config reference written to ${README_PATH}`);
});
