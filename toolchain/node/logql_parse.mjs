// Parses LogQL queries with Grafana's LogQL grammar (@grafana/lezer-logql, what Grafana's Loki
// query editor parses with): reads a JSON object {name: query} on stdin, writes {name: error
// message or null} on stdout. A lezer parser does not throw: it recovers, leaving error nodes in
// the tree, so the first one's position is what is wrong.
// The packages are those installed at argv[2] (toolchain/node_packages.py), not beside this file.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const { parser } = createRequire(join(process.argv[2], "package.json"))("@grafana/lezer-logql");

const queries = JSON.parse(readFileSync(0, "utf8"));
const errors = {};
for (const [name, query] of Object.entries(queries)) {
  let at = null;
  parser.parse(query).iterate({
    enter: (node) => {
      if (at === null && node.type.isError) at = node.from;
    },
  });
  errors[name] = at === null ? null
    : `syntax error at character ${at + 1}: ${query.slice(0, at)}<here>${query.slice(at)}`;
}
process.stdout.write(JSON.stringify(errors));
