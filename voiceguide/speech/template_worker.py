"""The template worker (Linux, espeak-ng): a lean process that forks a child per clip.

Run by path, ``python -S .../template_worker.py``: it imports only the standard
library and pyttsx3's ctypes binding (no numpy, no voiceguide, no site hooks: about
30 ms of CPU to start instead of about 280). It sets espeak-ng up once for its voice
and rate without speaking, and forks a single-use child per clip from that pristine
state, so every clip starts from exactly the same engine state. Its configuration
comes in the environment (``VOICEGUIDE_WORKER_CONFIG``), marshal, hex-encoded:
``{"path": sys.path, "binding": the file of pyttsx3.drivers._espeak, "voice": id or
None, "rate": wpm, "voices": whether to list the voices}``.

parent → worker: ``("synth", key, text, voice, rate, timeout)`` frames, or None to stop.
worker → parent: ``("ready", voices or None, default voice)`` or ``("fatal", message)``
once, then per job, in order: ``("raw", key, int16 bytes, sample rate)``, ``("error",
key, kind, message)`` or ``("lost", key)`` (the child hung and was killed, or crashed).

Frames are length-prefixed marshal dumps, as in :mod:`voiceguide.speech.protocol`
(which this file cannot import); the espeak calls are those of
:class:`voiceguide.speech.espeak.EspeakDirect`, in the same order. Keep them in step.
Importing this module does nothing; :func:`main` is the program.
"""

import gc
import marshal
import os
import select
import signal
import struct
import sys
import time
import warnings

FRAME = struct.Struct("<Q")
#: fcntl's F_SETPIPE_SZ where pipes can be enlarged (Linux), else None.
PIPE_SIZE = None
#: Children that answered and are on their way out, reaped later.
exiting = []


def write_all(fd, parts):
    """Write the byte strings ``parts`` to ``fd``, all of them."""
    total = sum(len(p) for p in parts)
    done = os.writev(fd, parts)
    if done < total:
        view = memoryview(b"".join(parts))[done:]
        while view:
            view = view[os.write(fd, view):]


def one_line(exc):
    """The first line of an error's message (or its type's name)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


def enlarge_pipe(fd):
    """Make the pipe ``fd`` hold a whole clip, where the system allows it: one write,
    and the writer goes on at once."""
    if PIPE_SIZE is not None:
        try:
            import fcntl

            fcntl.fcntl(fd, PIPE_SIZE, 1 << 20)
        except OSError:
            pass


def reap_exited():
    """Collect the children that answered (waiting for them once there are many)."""
    for pid in exiting[:]:
        try:
            gone = os.waitpid(pid, 0 if len(exiting) > 4 else os.WNOHANG)[0]
        except ChildProcessError:
            gone = True
        if gone:
            exiting.remove(pid)


def in_child(timeout, func, *args):
    """What func(*args) returns, (meta, [bytes]), computed in a forked single-use child.

    Returns (meta, the bytes joined) or None if the child took longer than timeout (it
    is killed) or died before answering in full."""
    reap_exited()
    r, w = os.pipe()
    enlarge_pipe(w)
    deadline = time.monotonic() + timeout
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(r)
            meta, payload = func(*args)
            head = marshal.dumps((meta, sum(len(p) for p in payload)))
            write_all(w, [FRAME.pack(len(head)), head] + payload)
        finally:
            os._exit(0)
    os.close(w)
    buf = bytearray()
    start = need = None
    try:
        while need is None or len(buf) < need:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not select.select([r], [], [], left)[0]:
                continue
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            buf += chunk
            if need is None and len(buf) >= 8:
                size = FRAME.unpack_from(buf)[0]
                if len(buf) >= 8 + size:
                    meta, length = marshal.loads(buf[8:8 + size])
                    start = 8 + size
                    need = start + length
    finally:
        os.close(r)
        if need is not None and len(buf) >= need:
            exiting.append(pid)  # it answered and exits by itself
        else:  # hung (or crashed): make sure it is gone
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            os.waitpid(pid, 0)
    if need is None or len(buf) < need:
        return None
    return meta, memoryview(buf)[start:need]


def load_binding(path):
    """pyttsx3's espeak ctypes binding, loaded from its file alone (importing the
    package would import pyttsx3's whole engine too); the package module if that fails."""
    try:
        from importlib.machinery import SourceFileLoader

        loader = SourceFileLoader("_voiceguide_espeak", path)
        es = type(sys)(loader.name)
        es.__file__, es.__loader__ = loader.path, loader
        loader.exec_module(es)
        for name in ("Initialize", "SetSynthCallback", "SetVoiceByName", "SetParameter",
                     "Synth", "ListVoices", "GetCurrentVoice"):
            getattr(es, name)
        return es
    except Exception:
        from pyttsx3.drivers import _espeak

        return _espeak


class Template:
    """espeak-ng set up once for one voice and rate; never speaks in this process."""

    def __init__(self, cfg):
        """Initialize espeak-ng exactly as ``EspeakDirect`` does, in the same order."""
        import ctypes

        es = self.es = load_binding(cfg["binding"])
        self.sample_rate = es.Initialize(es.AUDIO_OUTPUT_SYNCHRONOUS, 1000)
        if self.sample_rate <= 0:
            raise RuntimeError("espeak-ng could not be initialized (is espeak-ng-data "
                               "installed?)")
        self.chunks = []
        chunks = self.chunks

        def on_audio(wav, numsamples, events):
            if wav and numsamples > 0:
                chunks.append(ctypes.string_at(wav, numsamples * 2))
            return 0

        es.SetSynthCallback(on_audio)
        if self.current() is None:
            for name in (b"gmw/en", b"en"):
                if es.SetVoiceByName(name) == 0:
                    break
        self.default = self.current()
        self.voice, self.rate = cfg["voice"], int(cfg["rate"])
        self.voice_error = None
        if self.voice and es.SetVoiceByName(str(self.voice).encode("utf-8")) != 0:
            self.voice_error = "the speech engine has no voice %r" % (self.voice,)
        else:
            es.SetParameter(es.RATE, self.rate, 0)

    def current(self):
        """The selected voice's id, or None."""
        v = self.es.GetCurrentVoice()
        if v and v.contents.identifier:
            return v.contents.identifier.decode("utf-8").lower()
        return None

    def list_voices(self):
        """("ready", [(id, name, languages)], default) and no payload (run in a child:
        listing reads voice files into espeak's state)."""
        found = []
        for v in self.es.ListVoices(None):
            langs = []
            if v.languages:
                lang = v.languages[1:].decode("utf-8", "ignore").strip("\x00 ")
                if lang:
                    langs.append(lang)
            vid = v.identifier.decode("utf-8").lower()
            found.append((vid, v.name.decode("utf-8") or vid, tuple(langs)))
        return ("ready", found, self.default), []

    def synthesize(self, key, text):
        """(meta, payload) of one clip (run in a child)."""
        es = self.es
        try:
            status = es.Synth(text.encode("utf-8"), flags=es.ENDPAUSE | es.CHARS_UTF8)
            if status != 0:
                return ("error", key, "engine",
                        "espeak-ng could not speak the text (status %d)" % status), []
            return ("raw", key, self.sample_rate), self.chunks
        except BaseException as exc:
            return ("error", key, "engine", one_line(exc)), []

    def answer(self, key, text, want_voice, want_rate, timeout):
        """The reply to one job."""
        if self.voice_error is not None:
            return ("error", key, "voice", self.voice_error)
        if (want_voice or None, int(want_rate)) != (self.voice or None, self.rate):
            return ("error", key, "engine", "this worker speaks another voice or rate")
        got = in_child(timeout, self.synthesize, key, text)
        if got is None:
            return ("lost", key)
        if got[0][0] == "raw":
            return ("raw", key, got[1], self.sample_rate)
        return got[0]


def serve(template, commands, send):
    """Answer jobs until the parent says stop or goes away."""
    while True:
        try:
            header = commands.read(8)
            if len(header) < 8:
                break
            msg = marshal.loads(commands.read(FRAME.unpack(header)[0]))
        except (EOFError, OSError, ValueError):
            break
        if msg is None:
            break
        _, key, text, want_voice, want_rate, timeout = msg
        try:
            send(template.answer(key, text, want_voice, want_rate, timeout))
        except OSError:
            break


def main():
    """The worker program; never returns."""
    global PIPE_SIZE
    gc.disable()  # nothing here makes cycles; a collection in a child would copy every page
    warnings.simplefilter("ignore")  # e.g. about fork() with espeak's idle thread around
    cfg = marshal.loads(bytes.fromhex(os.environ.pop("VOICEGUIDE_WORKER_CONFIG")))
    sys.path[:] = cfg["path"]
    commands = os.fdopen(os.dup(0), "rb")
    replies = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the process
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    except (ValueError, OSError):
        pass
    try:
        import fcntl

        PIPE_SIZE = fcntl.F_SETPIPE_SZ
    except (ImportError, AttributeError):
        PIPE_SIZE = None
    enlarge_pipe(replies)

    def send(obj):
        data = marshal.dumps(obj)
        write_all(replies, [FRAME.pack(len(data)), data])

    try:
        template = Template(cfg)
        # Nothing is ever spoken in this process: every clip starts from this state.
        if cfg["voices"]:  # in a child too: listing reads voice files into espeak's state
            got = in_child(60.0, template.list_voices)
            if got is None:
                raise RuntimeError("the speech engine crashed while listing its voices")
            ready = got[0]
        else:
            ready = ("ready", None, template.default)
    except BaseException as exc:
        try:
            send(("fatal", one_line(exc)))
        finally:
            os._exit(0)
    send(ready)
    serve(template, commands, send)
    os._exit(0)  # skip interpreter teardown: espeak dislikes being finalized


if __name__ == "__main__":
    main()
