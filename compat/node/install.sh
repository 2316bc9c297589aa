# Sourced by the Node.js runners: the client installed from npm into compat/node/node_modules
# (`npm ci`, package-lock.json), (re)installed when missing or when package-lock.json changed since.
if ! cmp -s "$here/package-lock.json" "$here/node_modules/.installed-package-lock.json"; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$here/node_modules/.installed-package-lock.json"
fi
