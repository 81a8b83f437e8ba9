import logging
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # test helpers (model_tester, reference_*) import as top-level modules

import transformers  # noqa: E402

import dna_zoo  # noqa: E402

# dna_zoo must not call a deprecated API of transformers (or of anything else): a release inside the declared range
# may remove it. setup.cfg turns deprecation warnings attributed to dna_zoo's own modules into errors; the two guards
# below catch the others, in the package and in these tests: a warning attributed to the deprecated function itself
# when dna_zoo calls it, and the deprecations transformers logs instead of warning.
SOURCE = (str(Path(dna_zoo.__file__).parent), str(Path(__file__).parent))  # the package and its tests
LIBRARY = str(Path(transformers.__file__).parent)
PLUMBING = (str(Path(logging.__file__).parent), str(Path(warnings.__file__).parent / "functools.py"))
_warn = warnings.warn


def _is_dna_zoo(frame) -> bool:
    return frame is not None and frame.f_code.co_filename.startswith(SOURCE)


def _refuse(message, frame, category=FutureWarning):
    raise category(f"{message} (deprecated API called by dna_zoo at {frame.f_code.co_filename}:{frame.f_lineno})")


def _warn_unless_called_by_dna_zoo(message, category=None, stacklevel=1, *args, **kwargs):
    if category is None:
        category = type(message) if isinstance(message, Warning) else UserWarning
    if issubclass(category, (DeprecationWarning, FutureWarning)):
        warner = sys._getframe(1)  # the deprecated function (or its decorator) that warns
        if _is_dna_zoo(warner.f_back):
            _refuse(message, warner.f_back, category)
    return _warn(message, category, stacklevel + 1, *args, **kwargs)


warnings.warn = _warn_unless_called_by_dna_zoo


class _RefuseLoggedDeprecations(logging.Filter):
    """A logged deprecation fails when the first frame outside transformers (and logging) is dna_zoo's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "deprecated" in record.getMessage().lower():
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_filename.startswith((LIBRARY, *PLUMBING)):
                frame = frame.f_back
            if _is_dna_zoo(frame):
                _refuse(record.getMessage(), frame)
        return True


for _handler in logging.getLogger("transformers").handlers:
    _handler.addFilter(_RefuseLoggedDeprecations())
