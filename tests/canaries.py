"""Canary files outside the course, and a watch that says whether anything touched them.

An attack that gets the grader to follow a link would read, write, chmod or connect to one of
these instead of a real system file. Canaries(folder) makes:

    secret.txt          a root-only file with a random secret
    target.txt          a file that an attack tries to overwrite
    mode.txt            a 0600 file whose mode an attack tries to change
    tool                an executable (0755) whose execute bits an attack tries to remove
    folder/             a folder with a file in it
    fifo                a FIFO that blocks whoever opens it for reading
    zero                a character device like /dev/zero (made with mknod, root only)
    socket.stream, socket.seqpacket   Unix sockets that count who connects

While `with canaries.watching():` runs, Linux's inotify reports every open, read, write,
change of mode and creation or removal of anything among them; `touched()` lists them, and
`changed()` compares each canary with how it was made.
"""
import ctypes
import hashlib
import os
import secrets
import socket
import stat
import struct
import threading
from pathlib import Path

IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE, IN_OPEN = 0x1, 0x2, 0x4, 0x8, 0x20
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_MOVE_SELF = 0x40, 0x80, 0x100, 0x200, 0x400, 0x800
WATCHED = (IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_OPEN | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE
           | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)
NAMES = {IN_ACCESS: "read", IN_MODIFY: "written", IN_ATTRIB: "attributes changed", IN_CLOSE_WRITE: "closed after writing",
         IN_OPEN: "opened", IN_MOVED_FROM: "moved from", IN_MOVED_TO: "moved to", IN_CREATE: "created in",
         IN_DELETE: "deleted from", IN_DELETE_SELF: "deleted", IN_MOVE_SELF: "moved"}
EVENT = struct.Struct("iIII")

libc = ctypes.CDLL(None, use_errno=True)


class Canaries:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.secret = "CANARY-" + secrets.token_hex(16)
        (self.folder / "secret.txt").write_text(self.secret + "\n")
        os.chmod(self.folder / "secret.txt", 0o600)
        (self.folder / "target.txt").write_text("the target, as it was\n")
        (self.folder / "mode.txt").write_text("mode 0600\n")
        os.chmod(self.folder / "mode.txt", 0o600)
        (self.folder / "tool").write_text("#!/bin/sh\necho tool\n")
        os.chmod(self.folder / "tool", 0o755)
        (self.folder / "folder").mkdir()
        (self.folder / "folder" / "inside.txt").write_text(self.secret + " in a folder\n")
        os.mkfifo(self.folder / "fifo")
        os.mknod(self.folder / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
        self.connections = {"socket.stream": 0, "socket.seqpacket": 0}
        self.listeners = []
        for name, kind in (("socket.stream", socket.SOCK_STREAM), ("socket.seqpacket", socket.SOCK_SEQPACKET)):
            listener = socket.socket(socket.AF_UNIX, kind)
            listener.bind(str(self.folder / name))
            listener.listen(16)
            self.listeners.append(listener)
            threading.Thread(target=self._count, args=(listener, name), daemon=True).start()
        self.fingerprint = self._fingerprint()
        self.events = []
        self.inotify = None

    def _count(self, listener, name):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self.connections[name] += 1
            client.close()

    def paths(self):
        return [self.folder, *sorted(p for p in self.folder.rglob("*"))]

    def _fingerprint(self):
        """{path: (kind and mode, owner, content hash)} of every canary."""
        found = {}
        for path in self.paths():
            info = os.lstat(path)
            content = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else ""
            found[str(path)] = (info.st_mode, info.st_uid, content)
        return found

    def watching(self):
        return _Watch(self)

    def touched(self):
        """['<path>: <what happened>'] since the watch began."""
        return list(self.events)

    def changed(self):
        """['<path>: <what differs>'] between the canaries now and as they were made."""
        now = self._fingerprint()
        differences = [f"{path}: gone" for path in self.fingerprint if path not in now]
        differences += [f"{path}: new" for path in now if path not in self.fingerprint]
        differences += [f"{path}: {self.fingerprint[path]} -> {now[path]}" for path in now
                        if path in self.fingerprint and now[path] != self.fingerprint[path]]
        differences += [f"{name}: {count} connection(s)" for name, count in self.connections.items() if count]
        return differences

    def close(self):
        for listener in self.listeners:
            listener.close()


class _Watch:
    def __init__(self, canaries):
        self.canaries = canaries

    def __enter__(self):
        fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.fd, self.watches = fd, {}
        for path in self.canaries.paths():
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                continue   # connections are counted by the listeners
            wd = libc.inotify_add_watch(fd, str(path).encode(), WATCHED)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
            self.watches[wd] = str(path)
        self.stop = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self.canaries

    def _read(self):
        import select

        while True:
            stopping = self.stop.is_set()
            select.select([self.fd], [], [], 0.2)
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                if stopping:
                    return
                continue
            offset = 0
            while offset < len(data):
                wd, mask, _, length = EVENT.unpack_from(data, offset)
                name = data[offset + EVENT.size:offset + EVENT.size + length].rstrip(b"\0").decode(errors="replace")
                offset += EVENT.size + length
                what = ", ".join(word for bit, word in NAMES.items() if mask & bit)
                if wd in self.watches and what:
                    self.canaries.events.append(f"{self.watches[wd]}{'/' + name if name else ''}: {what}")

    def __exit__(self, *exc):
        self.stop.set()     # the reader drains what is left, then ends
        self.reader.join(10)
        os.close(self.fd)
        return False
