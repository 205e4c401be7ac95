"""The server's Ed25519 host key: made on first start in the state folder, private to its owner, reused on
every later start so participants' SSH clients recognise the server."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import asyncssh

HOST_KEY_FILE = "ssh_host_ed25519_key"
MAX_KEY_FILE_BYTES = 64 * 1024


class HostKeyError(Exception):
    """The host key file cannot be used; the message says why and what to do."""


def load_or_create_host_key(state_dir: Path) -> asyncssh.SSHKey:
    path = state_dir / HOST_KEY_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    key = asyncssh.generate_private_key("ssh-ed25519", comment="loss-tutor workshop")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:  # another `serve` made it a moment ago
        return _read(path)
    except OSError as error:
        raise HostKeyError(f"could not create the host key {path}: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(key.export_private_key())
    except OSError as error:
        path.unlink(missing_ok=True)  # half a key would stop every later start
        raise HostKeyError(f"could not write the host key {path}: {error.strerror}") from None
    return key


def _read(path: Path) -> asyncssh.SSHKey:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise HostKeyError(f"could not read the host key {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise HostKeyError(f"the host key {path} is not a regular file; remove it and start again")
        if status.st_uid != os.getuid():
            raise HostKeyError(f"the host key {path} belongs to another user; remove it to make a new one")
        if status.st_mode & 0o077:
            raise HostKeyError(
                f"the host key {path} can be read by other users (mode {stat.S_IMODE(status.st_mode):04o}); "
                f"make it private with: chmod 600 {path}"
            )
        data = file.read(MAX_KEY_FILE_BYTES + 1)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise HostKeyError(f"the host key {path} is too large to be a key; remove it to make a new one")
    try:
        return asyncssh.import_private_key(data)
    except (asyncssh.KeyImportError, ValueError) as error:
        raise HostKeyError(f"the host key {path} could not be read ({error}); remove it to make a new one") from None
