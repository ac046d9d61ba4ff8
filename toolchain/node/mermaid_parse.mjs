// Parses Mermaid diagrams with Mermaid's own parser, as GitHub's renderer would before drawing
// them: reads a JSON object {name: diagram text} on stdin, writes {name: error message or null}
// on stdout. mermaid.parse(text) throws the parser's own message for a diagram it cannot read
// (https://mermaid.js.org/config/setup/mermaid/interfaces/ParseOptions.html: without
// suppressErrors). It needs no browser, but its sanitizer (DOMPurify) needs a DOM: jsdom's.
// The packages are those installed at argv[2] (toolchain/node_packages.py), not beside this file.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(join(process.argv[2], "package.json"));
const { JSDOM } = require("jsdom");
const { window } = new JSDOM("");
globalThis.window = window;
globalThis.document = window.document;
// Imported once the DOM exists: DOMPurify binds to it when it loads.
const { default: mermaid } = await import(pathToFileURL(require.resolve("mermaid")).href);
mermaid.initialize({ startOnLoad: false });

const diagrams = JSON.parse(readFileSync(0, "utf8"));
const errors = {};
for (const [name, text] of Object.entries(diagrams)) {
  try {
    await mermaid.parse(text);
    errors[name] = null;
  } catch (error) {
    errors[name] = error instanceof Error ? error.message : String(error);
  }
}
process.stdout.write(JSON.stringify(errors));
