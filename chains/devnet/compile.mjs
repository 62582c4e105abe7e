// Compiles the devnet test contracts with the npm `solc` package and writes one
// artifact per contract (ABI, creation and runtime bytecode) to contracts/artifacts/.
// The artifacts are committed: the Python harness loads them and never compiles.
//
//   node chains/devnet/compile.mjs
import { createRequire } from "node:module";
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const here = dirname(fileURLToPath(import.meta.url));
const contractsDir = join(here, "contracts");
const buildDir = join(contractsDir, "artifacts");

const sources = {};
for (const file of readdirSync(contractsDir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[file] = { content: readFileSync(join(contractsDir, file), "utf8") };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    // Cancun runs on every anvil hardfork we use and on the chains we mimic.
    evmVersion: "cancun",
    outputSelection: {
      "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
    },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
for (const e of output.errors ?? []) {
  console.error(e.formattedMessage);
}
if (errors.length > 0) {
  process.exit(1);
}

mkdirSync(buildDir, { recursive: true });
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (c.evm.bytecode.object === "") {
      continue; // interfaces have nothing to deploy
    }
    const artifact = {
      contractName: name,
      sourceName: file,
      compiler: `solc ${solc.version()}`,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    writeFileSync(join(buildDir, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
    console.log(`wrote artifacts/${name}.json`);
  }
}
