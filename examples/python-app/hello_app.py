"""hello_py: an example app that keeps itself up to date with tufd.

The app is a folder (what PyInstaller's one-folder mode or a plain script bundle gives):

    hello_app.py      this script
    tufd_client.py    the client module (clients/python/tufd_client.py, copied in)
    VERSION           the app's version, e.g. "1.0"
    1.root.json       the repository's trusted root, shipped with the app

At start it spawns ``tufd sidecar``, asks it to check for an update, shows the download
progress on the terminal, asks the user (``--yes`` answers for them), and installs. tufd waits
for this process to exit, swaps the folder for the new version and relaunches the app with
``--relaunched``. tufd starts the relaunched app with stdin and stdout closed (stdout is the
protocol pipe), so the relaunched app writes to stderr.

Usage::

    python3 hello_app.py --server http://127.0.0.1:8080 [--data-dir DIR] [--tufd PATH] [--yes]

See examples/python-app/README.md.
"""

import argparse
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
# Python's isolated mode (-I) leaves the script's folder off sys.path: the client sits beside us.
sys.path.insert(0, HERE)
# Never write __pycache__ into the install folder: tufd rebuilds the installed version's tar from
# that folder as the base for the next patch, and a changed folder means a full download.
sys.dont_write_bytecode = True

from tufd_client import Tufd, TufdError, sidecar_args  # noqa: E402

APP_NAME = "hello_py"


def read_version():
    with open(os.path.join(HERE, "VERSION"), encoding="utf-8") as f:
        return f.read().strip()


def parse_args(argv):
    parser = argparse.ArgumentParser(description="an example app updated by tufd")
    parser.add_argument("--server", default="http://127.0.0.1:8080",
                        help="base URL of the update repository (holds metadata/ and targets/)")
    parser.add_argument("--data-dir", default=os.path.expanduser("~/.local/share/hello_py-tufd"),
                        help="tufd's data folder for this app")
    parser.add_argument("--tufd", default=os.environ.get("TUFD", "tufd"),
                        help="the tufd program (default: $TUFD or tufd on PATH)")
    parser.add_argument("--yes", action="store_true", help="install without asking")
    parser.add_argument("--relaunched", action="store_true",
                        help="set by tufd's relaunch after an update")
    return parser.parse_args(argv)


class Progress:
    """Shows tufd's notifications on the terminal (called on the client's reader thread)."""

    def __init__(self):
        self.installing = threading.Event()
        self.failed = None
        self.tty = sys.stdout.isatty()

    def __call__(self, method, params):
        if method == "progress":
            done, total = params["done_bytes"], params["total_bytes"]
            percent = 100 * done // total if total else 100
            line = "  {}: {}/{} bytes ({}%)".format(params["target"], done, total, percent)
            if self.tty:
                print("\r" + line, end="\n" if done == total else "", flush=True)
            elif done == total:
                print(line, flush=True)
        elif method == "state":
            if params["state"] == "installing":
                self.installing.set()
        elif method == "error":
            self.failed = "{}: {}".format(params["kind"], params["message"])
            self.installing.set()


def ask(question):
    try:
        return input(question + " [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        print()
        return False


def update(args, version):
    """Checks, asks, downloads and starts the install. Returns the process exit status."""
    data_dir = os.path.abspath(args.data_dir)
    os.makedirs(data_dir, exist_ok=True)
    relaunch = "{} -I -B hello_app.py --relaunched --server {} --data-dir {} --tufd {}".format(
        sys.executable, args.server, data_dir, args.tufd)
    flags = sidecar_args(
        app_name=APP_NAME,
        current_version=version,
        install_dir=HERE,
        data_dir=data_dir,
        metadata_url=args.server.rstrip("/") + "/metadata/",
        targets_url=args.server.rstrip("/") + "/targets/",
        trusted_root=os.path.join(HERE, "1.root.json"),
        poll_interval=0,
        app_pid=os.getpid(),
        relaunch=relaunch,
        log_file=os.path.join(data_dir, "tufd.log"),
    )
    progress = Progress()
    tufd = Tufd(flags, tufd=args.tufd, on_notification=progress)
    try:
        report = tufd.check(timeout=300)
        if not report["update_available"]:
            print("{} {} is up to date".format(APP_NAME, version))
            tufd.shutdown()
            return 0
        plan = report["plan"]
        how = ("{} patch(es)".format(len(plan["patches"])) if "patches" in plan
               else "the full archive ({})".format(plan.get("reason", "")))
        print("update available: {} -> {}, {} bytes to download as {}".format(
            report["current"], report["latest"], plan["bytes"], how), flush=True)
        if not (args.yes or ask("install {} now?".format(report["latest"]))):
            print("not now")
            tufd.shutdown()
            return 0
        staged = tufd.download(timeout=3600)
        print("downloaded and verified {}".format(staged["version"]), flush=True)
        # tufd swaps the folders once this process has exited (--app-pid), then relaunches it.
        call = tufd.send("install")
        if not progress.installing.wait(300) or progress.failed:
            if call.done():
                call.result()  # raises the error answer
            print("install did not start: {}".format(progress.failed), file=sys.stderr)
            return 1
        print("installing {}; {} restarts when it is in place".format(
            staged["version"], APP_NAME), flush=True)
        return 0  # exiting closes tufd's stdin; it finishes the swap, relaunches us and exits
    except TufdError as exc:
        print("update failed: {}".format(exc), file=sys.stderr)
        tufd.close()
        return 1


def main(argv):
    args = parse_args(argv)
    version = read_version()
    if args.relaunched:
        # stdout is closed after a relaunch: greet on stderr. The old tufd may still be
        # shutting down (it holds the data folder's lock), so no update check right now.
        print("{} {}: hello! (relaunched after the update)".format(APP_NAME, version),
              file=sys.stderr, flush=True)
        return 0
    print("{} {}: hello!".format(APP_NAME, version), flush=True)
    return update(args, version)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
