"""How the tutor starts a process of its own (the app's model child, the workshop's shared engine) so that it
runs this tutor's code and nothing from the folder it was started in.

`entry_command(module, *arguments)` is `python -I -c ENTRY TUTOR_PACKAGE_DIR MODULE ARGUMENTS…`. Isolated mode
(-I) keeps the current folder, PYTHONPATH and the user's site-packages off the module path (it ignores only
PYTHON* variables: LOSS_TUTOR_*, XDG_* and HOME still arrive). The `tutor` package is then loaded from the
folder this one was loaded from, by its path: nothing else in that folder's parent (a checkout, a
site-packages) is put on the module path, and an installed copy of another version is never picked up. Then
`MODULE.main(ARGUMENTS)` runs; MODULE must be one of the tutor's own.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import tutor

ENTRY = """\
import importlib, importlib.util, sys
package_dir, module_name = sys.argv.pop(1), sys.argv.pop(1)
if not module_name.startswith("tutor."):
    sys.exit(f"not one of the tutor's modules: {module_name}")
spec = importlib.util.spec_from_file_location(
    "tutor", package_dir + "/__init__.py", submodule_search_locations=[package_dir])
package = importlib.util.module_from_spec(spec)
sys.modules["tutor"] = package
spec.loader.exec_module(package)
importlib.import_module(module_name).main(sys.argv[1:])
"""


PACKAGE_DIR = Path(tutor.__file__).resolve().parent

# How much lower than its interfaces a computing process asks to be scheduled. Training or generating keeps both
# cores busy for minutes; the interface needs a few milliseconds now and then, and at the same priority it waits
# its turn behind torch's threads (measured: 65 to 80 ms pauses of the app's event loop while training, 35 to 50
# at this niceness). An engine alone on the machine runs as fast as before.
ENGINE_NICENESS = 10


def yield_to_interfaces() -> None:
    """Lower this computing process's priority below the interfaces' (the app's, the workshop's sessions')."""
    try:
        os.nice(ENGINE_NICENESS)
    except OSError:  # not allowed here: it only costs smoothness
        pass


def entry_command(module: str, *arguments: str, package_dir: Path = PACKAGE_DIR) -> list[str]:
    """The command line that runs `module.main(list(arguments))` in a new, isolated Python, from the `tutor`
    package in `package_dir` (this one unless told)."""
    return [sys.executable, "-I", "-c", ENTRY, str(package_dir), module, *arguments]
