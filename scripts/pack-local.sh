#!/usr/bin/env bash
# npm run pack:local [-- --no-build]: what the publish job does, for this machine's platform only,
# without publishing. Leaves two tarballs in pack/:
#   fluent-native-<version>.tgz             the main package (JS, types, the loader binding.js)
#   fluent-native-<platform>-<version>.tgz  the platform package holding the .node
# The main package's optionalDependencies name the platform package, as `napi prepublish` writes
# them at publish time (there for every target). package.json is restored afterwards: those lines
# are never committed (STYLE.md 4.8).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--no-build" ]; then
  npm run build
fi

version="$(node -p 'require("./package.json").version')"
name="$(node -p 'require("./package.json").name')"
binary="$(node -p 'require("./package.json").napi.binaryName')"
# napi's platform name for this machine (linux-x64-gnu, darwin-arm64, win32-x64-msvc, ...).
platform="$(node -e '
  const { platform, arch } = process
  let abi = ""
  if (platform === "linux") abi = process.report.getReport().header.glibcVersionRuntime ? "-gnu" : "-musl"
  if (platform === "win32") abi = "-msvc"
  console.log(`${platform}-${arch}${abi}`)
')"
node_file="$binary.$platform.node"
[ -f "$node_file" ] || { echo "pack:local: $node_file is missing (build first)" >&2; exit 1; }

rm -rf npm pack
mkdir -p pack
npx napi create-npm-dirs >/dev/null 2>&1
[ -d "npm/$platform" ] || { echo "pack:local: $platform is not in napi.targets" >&2; exit 1; }
cp "$node_file" "npm/$platform/"
(cd "npm/$platform" && npm pack --silent --pack-destination ../../pack >/dev/null)

cp package.json pack/package.json.orig
restore() { mv pack/package.json.orig package.json; }
trap restore EXIT
npm pkg set "optionalDependencies.$name-$platform=$version"
# As prepack does under `npm publish` (scripts/manifest.cjs): `prepare` does not ship.
npm pkg delete scripts.prepare
# --ignore-scripts: `prepare` would build again; the build above (or the caller's) is what ships.
npm pack --silent --ignore-scripts --pack-destination pack >/dev/null
restore
trap - EXIT
rm -rf npm
ls -1 pack/*.tgz
