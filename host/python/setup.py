"""Copies the engine component into the package at build time.

The component is an input of the build, never committed: set PAYHOOK_ENGINE_WASM to the file that
`cargo run -q -p payhook -- export-wasm FILE` wrote, then `pip install .`.
"""

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

WASM = "payhook_engine.wasm"


class BuildWithComponent(build_py):
    def run(self) -> None:
        super().run()
        source = os.environ.get("PAYHOOK_ENGINE_WASM")
        if not source:
            raise SystemExit(
                "error: set PAYHOOK_ENGINE_WASM to the engine component; export it at the repo root "
                "with `cargo run -q -p payhook -- export-wasm payhook_engine.wasm`"
            )
        if not Path(source).is_file():
            raise SystemExit(f"error: PAYHOOK_ENGINE_WASM names {source}, which is not a file")
        target = Path(self.build_lib, "payhook_engine", WASM)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


setup(cmdclass={"build_py": BuildWithComponent})
