#!/bin/sh
# Builds the hello_py app bundle (a folder) for one version:
#   examples/python-app/make_bundle.sh VERSION OUT_DIR ROOT_JSON
# OUT_DIR gets hello_app.py, tufd_client.py, VERSION and 1.root.json (the repository's trusted
# root, shipped inside the app). Publish the folder with `tufd-repo add OUT_DIR --version VERSION`.
set -eu
if [ "$#" -ne 3 ]; then
  echo "usage: $0 VERSION OUT_DIR ROOT_JSON" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
version=$1
out=$2
root=$3
mkdir -p "$out"
cp "$here/hello_app.py" "$out/hello_app.py"
cp "$here/../../clients/python/tufd_client.py" "$out/tufd_client.py"
cp "$root" "$out/1.root.json"
printf '%s\n' "$version" > "$out/VERSION"
