#!/usr/bin/env node
// Compiles the devnet's Solidity contracts (crates/devnet/contracts/*.sol) with the pinned solc-js and
// the pinned OpenZeppelin sources from node_modules, and writes
// `{ "ContractName": { "abi": [...], "bytecode": "0x..." } }` to the path given on the command
// line (written to a temporary file first and renamed, so a reader never sees half a file).
//
//   node crates/devnet/compile.js OUT.json
//
// Nothing is downloaded: solc-js carries its compiler (soljson.js) in the npm package.
'use strict';

const fs = require('fs');
const path = require('path');

const projectDir = path.resolve(__dirname, '..', '..');
const contractsDir = path.join(__dirname, 'contracts');
const nodeModules = path.join(projectDir, 'node_modules');

// Settings shared by every contract: the optimizer keeps the Governor under the 24 KiB code
// size limit, and cancun is a hardfork every anvil release since 2024 runs by default.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
};

function usage() {
  process.stderr.write('usage: node crates/devnet/compile.js OUT.json\n');
  process.exit(2);
}

// Resolves imports outside our sources: `@openzeppelin/...` (and any other package) from
// node_modules. solc hands relative imports over already joined with the importer's path.
function findImports(importPath) {
  const normalized = path.posix.normalize(importPath);
  if (normalized.startsWith('..') || path.isAbsolute(normalized)) {
    return { error: `refusing to import ${importPath} from outside node_modules` };
  }
  const file = path.join(nodeModules, normalized);
  try {
    return { contents: fs.readFileSync(file, 'utf8') };
  } catch (e) {
    return { error: `cannot read ${normalized} from node_modules: ${e.message}` };
  }
}

function main() {
  const out = process.argv[2];
  if (!out || process.argv.length > 3) usage();

  let solc;
  try {
    solc = require(path.join(nodeModules, 'solc'));
  } catch (e) {
    process.stderr.write(`cannot load solc from node_modules (run npm ci): ${e.message}\n`);
    process.exit(1);
  }

  const files = fs
    .readdirSync(contractsDir)
    .filter((f) => f.endsWith('.sol'))
    .sort();
  if (files.length === 0) {
    process.stderr.write(`no .sol files in ${contractsDir}\n`);
    process.exit(1);
  }
  // Source unit names are relative ("contracts/X.sol"), so no machine path reaches the
  // metadata and the bytecode is the same everywhere.
  const sources = {};
  const outputSelection = {};
  for (const f of files) {
    const unit = `contracts/${f}`;
    sources[unit] = { content: fs.readFileSync(path.join(contractsDir, f), 'utf8') };
    outputSelection[unit] = { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] };
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: { ...SETTINGS, outputSelection },
  };

  const started = Date.now();
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const elapsed = Date.now() - started;

  // Errors anywhere and warnings in our own sources are shown; warnings in the pinned
  // libraries are only counted, since we cannot act on them.
  const problems = output.errors || [];
  let libraryWarnings = 0;
  for (const p of problems) {
    const file = p.sourceLocation && p.sourceLocation.file;
    if (p.severity !== 'error' && file && !file.startsWith('contracts/')) {
      libraryWarnings += 1;
      continue;
    }
    process.stderr.write(`${p.formattedMessage || p.message}\n`);
  }
  if (libraryWarnings > 0) {
    process.stderr.write(`(${libraryWarnings} warnings in node_modules sources not shown)\n`);
  }
  if (problems.some((p) => p.severity === 'error')) {
    process.stderr.write('compilation failed\n');
    process.exit(1);
  }

  const artifacts = {};
  for (const unit of Object.keys(sources)) {
    for (const [name, contract] of Object.entries(output.contracts[unit] || {})) {
      const bytecode = contract.evm.bytecode.object;
      if (!bytecode) continue; // interfaces and abstract contracts
      if (artifacts[name]) {
        process.stderr.write(`contract ${name} is defined twice\n`);
        process.exit(1);
      }
      const runtimeSize = contract.evm.deployedBytecode.object.length / 2;
      process.stderr.write(`${name}: ${runtimeSize} bytes of runtime code\n`);
      artifacts[name] = { abi: contract.abi, bytecode: `0x${bytecode}` };
    }
  }
  process.stderr.write(`solc ${solc.version()} compiled ${files.length} files in ${elapsed} ms\n`);

  const tmp = `${out}.tmp-${process.pid}`;
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(tmp, JSON.stringify(artifacts));
  fs.renameSync(tmp, out);
}

main();
