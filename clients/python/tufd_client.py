"""tufd_client: talk to the tufd update sidecar from Python (standard library only, 3.8+).

Copy this one file into your app. It starts ``tufd sidecar`` as a child process, speaks
JSON-RPC 2.0 over the child's stdin/stdout (one JSON message per line, see
``docs/protocol.md``), delivers notifications (``state``, ``progress``, ``update-available``,
``restart-required``, ``error``) to a callback, and raises :class:`TufdError` for error answers.

Example::

    from tufd_client import Tufd, TufdError, sidecar_args

    def on_note(method, params):
        if method == "progress":
            print(params["target"], params["done_bytes"], "/", params["total_bytes"])

    args = sidecar_args(app_name="hello", current_version="1.0", install_dir="/opt/hello",
                        data_dir="/home/me/.local/share/hello-tufd",
                        metadata_url="https://updates.example.com/metadata/",
                        targets_url="https://updates.example.com/targets/",
                        trusted_root="/opt/hello/1.root.json")
    with Tufd(args, on_notification=on_note) as tufd:
        report = tufd.check()
        if report["update_available"]:
            tufd.download()
            tufd.install()

The callback runs on the client's reader thread: keep it short, and hand work to your own
thread or event loop (a GUI must not be touched from it). Requests may be sent from any thread.
"""

import itertools
import json
import subprocess
import threading

__all__ = ["Tufd", "TufdError", "PendingCall", "sidecar_args"]

# JSON-RPC error codes (docs/protocol.md "Errors").
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
UPDATE_ERROR = -32000


class TufdError(Exception):
    """An error answer from tufd, or a failure to talk to it.

    ``code`` is the JSON-RPC code (-32000 for update errors), ``message`` the text, and
    ``kind`` the update error kind (``"network"``, ``"expired-metadata"``, ``"no-update"``, …;
    ``None`` when the answer carries none). A sidecar that cannot be started, that exited, or
    a time-out gives code ``INTERNAL_ERROR`` with kind ``"spawn"``, ``"disconnected"`` or
    ``"timeout"``.
    """

    def __init__(self, code, message, kind=None):
        super().__init__("{} ({}): {}".format(kind or "error", code, message))
        self.code = code
        self.message = message
        self.kind = kind


def sidecar_args(**flags):
    """Turns keyword arguments into tufd flags: ``app_name="x"`` → ``--app-name x``.

    ``True`` gives a bare flag (``auto_install=True`` → ``--auto-install``); ``None`` and
    ``False`` are left out; other values are converted with ``str``.
    """
    args = []
    for key, value in flags.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        else:
            args.extend([flag, str(value)])
    return args


class PendingCall:
    """A request sent to tufd whose answer may not have arrived yet."""

    def __init__(self, method):
        self.method = method
        self._done = threading.Event()
        self._result = None
        self._error = None

    def _settle(self, result=None, error=None):
        self._result = result
        self._error = error
        self._done.set()

    def done(self):
        """Whether the answer arrived (or the sidecar went away)."""
        return self._done.is_set()

    def result(self, timeout=None):
        """Waits at most ``timeout`` seconds (``None``: forever) and returns the result.

        Raises :class:`TufdError` for an error answer, a closed sidecar or a time-out.
        """
        if not self._done.wait(timeout):
            raise TufdError(INTERNAL_ERROR, "no answer to {} within {} s".format(self.method, timeout),
                            "timeout")
        if self._error is not None:
            raise self._error
        return self._result


class Tufd:
    """A running ``tufd sidecar`` child and the JSON-RPC conversation with it.

    ``args`` are the daemon's flags (see :func:`sidecar_args`), ``tufd`` the program to run,
    ``on_notification(method, params)`` is called on the reader thread for every notification,
    ``stderr`` is passed to :class:`subprocess.Popen` (default: inherited; the daemon's logs
    can also go to a file with ``--log-file``).
    """

    def __init__(self, args, tufd="tufd", on_notification=None, stderr=None, env=None):
        self._on_notification = on_notification
        self._ids = itertools.count(1)
        self._pending = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed_error = None
        try:
            self.process = subprocess.Popen(
                [tufd, "sidecar"] + list(args),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
            )
        except OSError as exc:
            raise TufdError(INTERNAL_ERROR, "cannot start {}: {}".format(tufd, exc), "spawn") from exc
        self._reader = threading.Thread(target=self._read_loop, name="tufd-reader", daemon=True)
        self._reader.start()

    # -- requests ---------------------------------------------------------------------------

    def send(self, method, params=None):
        """Sends request ``method`` and returns its :class:`PendingCall` without waiting."""
        call = PendingCall(method)
        with self._lock:
            if self._closed_error is not None:
                call._settle(error=self._closed_error)
                return call
            request_id = next(self._ids)
            self._pending[request_id] = call
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        line = (json.dumps(message) + "\n").encode("utf-8")
        try:
            with self._write_lock:
                self.process.stdin.write(line)
                self.process.stdin.flush()
        except (OSError, ValueError) as exc:
            with self._lock:
                self._pending.pop(request_id, None)
            call._settle(error=TufdError(INTERNAL_ERROR, "cannot write to tufd: {}".format(exc),
                                         "disconnected"))
        return call

    def request(self, method, params=None, timeout=None):
        """Sends ``method`` and waits at most ``timeout`` seconds for its result."""
        return self.send(method, params).result(timeout)

    def status(self, timeout=30):
        """``{"state", "current", "latest"?, "pending"?}``."""
        return self.request("status", timeout=timeout)

    def check(self, timeout=None):
        """``{"current", "latest", "update_available", "plan"}``; refreshes the metadata."""
        return self.request("check", timeout=timeout)

    def download(self, timeout=None):
        """Downloads, verifies and stages the update: ``{"version", "staged": True}``."""
        return self.request("download", timeout=timeout)

    def install(self, timeout=None):
        """Installs the staged update: ``{"version", "installed": True}``.

        With ``--app-pid`` the daemon waits for this process to exit before swapping: then use
        ``send("install")``, wait for the ``installing`` state and exit instead.
        """
        return self.request("install", timeout=timeout)

    def cancel(self, timeout=30):
        """Stops a running check or download: ``{"cancelled": bool}``."""
        return self.request("cancel", timeout=timeout)

    def shutdown(self, timeout=60):
        """Asks the daemon to exit and waits for it (a swap in progress is finished first)."""
        try:
            self.request("shutdown", timeout=timeout)
        except TufdError as exc:
            if exc.kind != "disconnected":
                raise
        return self.close(timeout)

    def close(self, timeout=60):
        """Closes the daemon's stdin (end of input = shutdown) and waits for it to exit.

        Returns its exit status; kills it if it is still running after ``timeout`` seconds.
        """
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    # -- the reader thread ------------------------------------------------------------------

    def _read_loop(self):
        try:
            for raw in self.process.stdout:
                line = raw.strip()
                if not line:
                    continue
                try:
                    message = json.loads(line.decode("utf-8"))
                except ValueError:
                    continue  # stdout carries only protocol messages; ignore anything else
                if isinstance(message, dict):
                    self._dispatch(message)
        finally:
            error = TufdError(INTERNAL_ERROR, "tufd exited", "disconnected")
            with self._lock:
                self._closed_error = error
                pending, self._pending = self._pending, {}
            for call in pending.values():
                call._settle(error=error)

    def _dispatch(self, message):
        if "id" not in message:
            if self._on_notification is not None and isinstance(message.get("method"), str):
                try:
                    self._on_notification(message["method"], message.get("params") or {})
                except Exception:  # noqa: BLE001 - a faulty callback must not stop the reader
                    import traceback

                    traceback.print_exc()
            return
        with self._lock:
            call = self._pending.pop(message.get("id"), None)
        if call is None:
            return  # e.g. the answer to a parse error (id null)
        error = message.get("error")
        if error is not None:
            data = error.get("data") or {}
            call._settle(error=TufdError(error.get("code", INTERNAL_ERROR),
                                         error.get("message", ""), data.get("kind")))
        else:
            call._settle(result=message.get("result"))
