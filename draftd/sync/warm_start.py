"""Draft's warm restart for Python apps: the restart wrapper writes this file into the
container as `sitecustomize.py`, in a folder it puts first on the app's PYTHONPATH.

Python imports `sitecustomize` before it reads the app's own code, so this runs first in
every Python process of the app's command, and does one of two things:

- **In the app** (the command started as usual): it puts the process in a session of its
  own, so that a restart ends the app and its children, and nothing else; then, once the
  app has started, it writes down the libraries the app imported (modules from the
  interpreter's and site-packages' folders, never the app's own) and tells the wrapper
  (SIGUSR1), which starts a *spare*: the same command again.
- **In the spare**: it imports those libraries, then waits on a pipe. On the next save the
  wrapper ends the app and writes "go": the spare goes on to read the app's code, which
  the save has just changed, with Flask (or Django, FastAPI, ...) already imported. A
  restart then costs the app's own start, not the interpreter's and its libraries'.

Nothing of this stays in the app: the variables and the folder are taken out of
`os.environ`, PYTHONPATH and `sys.path` before its code runs. An image's own
`sitecustomize` still runs, after this one. This file runs on whatever Python the image
has, so it keeps to what Python 3.8 understands; it never raises.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import threading
from pathlib import Path

SERVING = "socket.bind"
"""The audit event that says the app has imported what it needs to serve: it binds its port."""
SETTLED = 0.05
"""Seconds after the bind before the libraries are written down (a server imports a few more
as it starts serving)."""
MAX_MODULES = 5000


def _take(name: str) -> str:
    return os.environ.pop(name, "")


def _hide(folder: str) -> None:
    """Take the wrapper's folder out of PYTHONPATH and sys.path again."""
    paths = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
    if folder in paths:
        paths.remove(folder)
        if paths:
            os.environ["PYTHONPATH"] = os.pathsep.join(paths)
        else:
            del os.environ["PYTHONPATH"]
    while folder in sys.path:
        sys.path.remove(folder)


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _library_folders() -> tuple[str, ...]:
    import sysconfig  # here, not at the app's start: it is only needed once it has started

    paths = sysconfig.get_paths()
    folders = {paths.get(name, "") for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(str(Path(folder)) + os.sep for folder in sorted(folders) if folder)


def _libraries() -> list[str]:
    """The modules this process imported from the interpreter's and site-packages' folders."""
    folders = _library_folders()
    names = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name in ("__main__", "sitecustomize") or not isinstance(path, str):
            continue
        if str(Path(path).absolute()).startswith(folders):
            names.append(name)
    return sorted(names)[:MAX_MODULES]


def _record_then_ask(folder: Path, wrapper: int) -> None:
    """Once the app binds its port, write down its libraries and ask the wrapper for a spare
    (an app that binds none gets no spare: no thread is started in it either)."""
    asked = threading.Event()

    def record() -> None:
        if asked.is_set():
            return
        asked.set()
        try:
            _write(folder / "modules", "\n".join(_libraries()) + "\n")
            os.kill(wrapper, signal.SIGUSR1)
        except Exception:  # the wrapper has gone, or the folder: no spare then
            pass

    def later(seconds: float) -> None:
        timer = threading.Timer(seconds, record)
        timer.daemon = True
        timer.start()

    def on_event(event: str, _args: tuple[object, ...]) -> None:
        # Audit hooks stay for the process's life: every other event returns at once.
        if event == SERVING and not asked.is_set():
            with contextlib.suppress(Exception):
                later(SETTLED)

    sys.addaudithook(on_event)


def _import_libraries(folder: Path) -> None:
    try:
        names = (folder / "modules").read_text(encoding="utf-8").split()
    except OSError:
        return
    for name in names:
        # A library that cannot be imported before the app's code is left to the app.
        with contextlib.suppress(BaseException):
            importlib.import_module(name)


def _claim(token: Path) -> bool:
    """Whether this is the spare's first Python process (a command may start several)."""
    try:
        token.rename(token.with_name(token.name + ".taken"))
    except OSError:
        return False
    return True


def main() -> None:
    named = _take("DRAFT_WARM_DIR")
    go = _take("DRAFT_WARM_GO")
    instance = _take("DRAFT_WARM_ID")
    wrapper = _take("DRAFT_WARM_WRAPPER")
    if not named:
        return
    _hide(named)
    folder = Path(named)
    with contextlib.suppress(OSError):
        os.setsid()  # the app and its children, in one group the wrapper ends on a restart
    _write(folder / f"pid.{instance}", f"{os.getpid()}\n")
    if go and _claim(Path(go + ".token")):
        _import_libraries(folder)
        with Path(go).open(encoding="utf-8") as pipe:
            if pipe.readline().strip() != "go":
                os._exit(0)  # the wrapper ended without needing this spare
    if wrapper.isdigit():
        _record_then_ask(folder, int(wrapper))


def _chain() -> None:
    """Run the image's own `sitecustomize`, which this file's name hides."""
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [path for path in sys.path if not path or str(Path(path).resolve()) != here]
    module = sys.modules.pop("sitecustomize", None)
    try:
        importlib.import_module("sitecustomize")
    except ImportError:
        pass
    except Exception as error:  # as Python's site module does with a failing sitecustomize
        print(f"Error in sitecustomize:\n{error!r}", file=sys.stderr)
    finally:
        if module is not None and "sitecustomize" not in sys.modules:
            sys.modules["sitecustomize"] = module


with contextlib.suppress(Exception):  # the app starts as it would have without Draft
    main()
_chain()
