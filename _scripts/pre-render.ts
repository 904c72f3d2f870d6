// Quarto's pre-render step (`pre-render:` in _quarto.yml), run by Quarto's own Deno: it needs no Python on PATH,
// so a plain `quarto render` or `quarto preview` works after `make install` without activating anything.
// It regenerates the files the site includes from the entries (`mechlearn progress`) with the project's own
// environment: $MECHLEARN_PYTHON if set (the Makefile sets it to its $(VENV)), else .venv in the project root.
const windows = Deno.build.os === "windows";
const python = Deno.env.get("MECHLEARN_PYTHON") ??
  (windows ? ".venv\\Scripts\\python.exe" : ".venv/bin/python");

let found = false;
try {
  found = Deno.statSync(python).isFile;
} catch {
  found = false;
}
if (!found) {
  console.error(`pre-render: no Python environment at ${python}: run \`make install\` first (it creates .venv)`);
  Deno.exit(1);
}
const { code } = new Deno.Command(python, {
  args: ["-m", "mechlearn", "progress"],
  stdout: "inherit",
  stderr: "inherit",
}).outputSync();
Deno.exit(code);
