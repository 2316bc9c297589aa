# Sourced by the Python runners: the client and pytest installed from PyPI into compat/python/.venv,
# (re)installed when missing or when requirements.txt changed since; sets `venv`.
venv="$here/.venv"
if ! cmp -s "$here/requirements.txt" "$venv/installed-requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/installed-requirements.txt"
fi
