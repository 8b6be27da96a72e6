"""Photos sent through the web chat: checked before anything is kept, held only while the
message that carries them is handled, and limited per person.

Other channels' files wait on the platform (Slack, Twilio, Teams) until a dialog downloads
them; a web chat photo arrives inside the request itself. It used to be written to disk before
it was checked and kept for two days, accepted or not, with no limit: anyone with an
invitation could fill the disk. Now:

- its header is checked first (`bot.photos.inspect`: bytes, accepted format, pixels), so a
  refused upload is answered and forgotten without a byte of it written anywhere;
- an accepted upload is held in this process's memory only while the engine handles the
  message that carries it: the dialog downloads it during that turn (`WebAdapter.fetch_media`,
  like any channel's media) and it is dropped straight after, taken or not. Nothing of it
  reaches the disk here; what a dialog keeps (a report's original) falls under the media
  store's retention;
- per person, at most `upload_max_pending` uploads are handled at once and
  `upload_max_per_hour` are taken per hour; more are refused before their bytes are read.

The counters live in memory, per server process, and hold nothing but a person's id and the
times of their last hour of uploads.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path

from bot.messages import MediaRef

UPLOAD_SCHEME = "web-upload:"
UPLOAD_NAME = re.compile(r"[0-9a-f]{32}")
HOUR = 3600.0
# Where older versions wrote uploads to disk; emptied when the web chat starts.
LEGACY_UPLOAD_DIR = "web-uploads"


class HeldUploads:
    """Accepted uploads by random name, in memory, for as long as their message is handled."""

    def __init__(self) -> None:
        self._held: dict[str, bytes] = {}

    def hold(self, data: bytes, content_type: str) -> MediaRef:
        """A reference the engine can pass on; never the name the browser sent."""
        name = secrets.token_hex(16)
        self._held[name] = data
        return MediaRef(url=UPLOAD_SCHEME + name, content_type=content_type, size=len(data))

    def get(self, url: str) -> bytes | None:
        name = url.removeprefix(UPLOAD_SCHEME)
        if not url.startswith(UPLOAD_SCHEME) or not UPLOAD_NAME.fullmatch(name):
            return None
        return self._held.get(name)

    def drop(self, ref: MediaRef) -> None:
        self._held.pop(ref.url.removeprefix(UPLOAD_SCHEME), None)

    def __len__(self) -> int:
        return len(self._held)


class UploadQuota:
    """Per person: uploads being handled now, and uploads taken in the last hour."""

    def __init__(
        self,
        max_pending: int,
        max_per_hour: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_pending = max_pending
        self.max_per_hour = max_per_hour
        self.clock = clock
        self._pending: dict[int, int] = defaultdict(int)
        self._recent: dict[int, deque[float]] = {}

    def admit(self, person_id: int) -> str | None:
        """None and a reserved slot (give it back with `release`), or the catalogue key that
        says why not."""
        now = self.clock()
        recent = self._recent.setdefault(person_id, deque())
        while recent and recent[0] <= now - HOUR:
            recent.popleft()
        if self._pending[person_id] >= self.max_pending:
            return "upload.busy"
        if len(recent) >= self.max_per_hour:
            return "upload.hourly_limit"
        self._pending[person_id] += 1
        recent.append(now)
        return None

    def release(self, person_id: int) -> None:
        left = self._pending[person_id] - 1
        if left > 0:
            self._pending[person_id] = left
        else:
            del self._pending[person_id]


def remove_legacy_uploads(data_dir: Path) -> int:
    """Delete what older versions left in `data_dir/web-uploads` (kept there for two days,
    accepted or not); nothing is written there any more. Returns how many files went."""
    folder = data_dir / LEGACY_UPLOAD_DIR
    if not folder.is_dir():
        return 0
    removed = 0
    for old in folder.iterdir():
        if UPLOAD_NAME.fullmatch(old.name) and old.is_file():
            old.unlink(missing_ok=True)
            removed += 1
    if not any(folder.iterdir()):
        folder.rmdir()
    return removed
