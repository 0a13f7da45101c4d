#!/usr/bin/env bash
# Scaffolds the boilerplate of a workspace package: package.json, tsconfigs and vitest project.
# Usage: tools/new-package.sh <dir> <name> "<description>"
set -euo pipefail
dir=$1 name=$2 desc=$3
mkdir -p "$dir/src"
cat > "$dir/package.json" <<JSON
{
  "name": "@tsvmm/$name",
  "version": "0.1.0",
  "description": "$desc",
  "type": "module",
  "license": "MIT",
  "sideEffects": false,
  "exports": {
    ".": {
      "source": "./src/index.ts",
      "types": "./dist/index.d.ts",
      "default": "./dist/index.js"
    }
  },
  "files": ["dist", "src", "!src/**/*.test.ts", "README.md"],
  "scripts": {
    "build": "tsc -p tsconfig.build.json",
    "typecheck": "tsc -p tsconfig.json",
    "lint": "biome check .",
    "test": "vitest run"
  },
  "devDependencies": {}
}
JSON
rel=$(realpath --relative-to="$dir" .)
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "$rel/tsconfig.base.json",
  "compilerOptions": { "noEmit": true, "allowImportingTsExtensions": true, "types": ["node"] },
  "include": ["src", "test", "*.ts"]
}
JSON
cat > "$dir/tsconfig.build.json" <<JSON
{
  "extends": "$rel/tsconfig.base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist", "customConditions": [] },
  "include": ["src"],
  "exclude": ["src/**/*.test.ts", "src/**/*.test-support.ts"]
}
JSON
cat > "$dir/vitest.config.ts" <<TS
import { packageProject } from "$rel/vitest.shared.ts";

export default packageProject("$name");
TS
